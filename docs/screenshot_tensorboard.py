"""Screenshots of TensorBoard for the README, taken with headless Chromium.

    python docs/screenshot_tensorboard.py <sweep dir> docs/tensorboard_parallel_coordinates.png

starts `tensorboard --logdir <sweep dir>` on a free local port, opens its HParams tab in headless
Chromium, switches to the parallel coordinates view and saves the page as a PNG. Chromium is
driven through its DevTools protocol over `--remote-debugging-pipe` (JSON messages ending in a
NUL byte on file descriptors 3 and 4), so nothing beyond the standard library and a `chromium`
binary is needed. Not part of the package: a tool for the docs.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

WIDTH, HEIGHT = 1400, 720
#: the first element `test` accepts, searched through the shadow roots of TensorBoard's Polymer
#: components (which `document.querySelector` does not enter)
FIND = """(test) => {
  const stack = [document];
  while (stack.length) {
    const node = stack.pop();
    if (node.shadowRoot) stack.push(node.shadowRoot);
    for (const child of node.children || []) stack.push(child);
    if (node.tagName && test(node)) return node;
  }
  return null;
}"""
TAB = f"""({FIND})(n => n.tagName === 'PAPER-TAB'
                   && n.textContent.trim().toLowerCase() === 'parallel coordinates view')"""
PLOT = f"({FIND})(n => n.tagName === 'TF-HPARAMS-PARALLEL-COORDS-PLOT')"


class Browser:
    """Headless Chromium with one page, spoken to over the DevTools pipe."""

    def __init__(self, binary: str) -> None:
        # above 4, so that placing one end on 3 or 4 cannot close the other
        to_browser, self._commands = (os.dup(fd) for fd in os.pipe())
        self._events, from_browser = (os.dup(fd) for fd in os.pipe())

        def pipes_as_3_and_4() -> None:
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)

        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--remote-debugging-pipe", "--no-sandbox",
             "--disable-gpu", "--hide-scrollbars", f"--window-size={WIDTH},{HEIGHT}"],
            preexec_fn=pipes_as_3_and_4, close_fds=False, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._id = b"", 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=WIDTH,
                  height=HEIGHT, deviceScaleFactor=1, mobile=False)

    def call(self, method: str, session: bool = False, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:  # events and other replies are skipped
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def _read(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._events, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe: "
                                   + self.proc.stderr.read().decode()[-2000:])
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True, awaitPromise=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> None:
        """Until `expression` is true in the page (TensorBoard loads and draws asynchronously)."""
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise TimeoutError(expression)
            time.sleep(0.5)

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_tensorboard(logdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("TensorBoard did not start") from None
            time.sleep(0.5)


def parallel_coordinates(logdir: Path, out: Path) -> None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise SystemExit("error: no chromium on PATH (apt-get install chromium)")
    board, url = start_tensorboard(logdir)
    browser = Browser(binary)
    try:
        browser.call("Page.navigate", session=True, url=f"{url}/#hparams")
        browser.wait_for(f"!!{TAB}")
        browser.evaluate(f"{TAB}.click(), true")
        # drawn: a line per session in the plot's foreground
        browser.wait_for(f"!!{PLOT} && {PLOT}.shadowRoot.querySelectorAll('.foreground path')"
                         ".length > 0")
        time.sleep(1)  # the lines' transition
        browser.screenshot(out)
    finally:
        browser.close()
        board.terminate()
        board.wait(timeout=30)


if __name__ == "__main__":
    parallel_coordinates(Path(sys.argv[1]), Path(sys.argv[2]))
