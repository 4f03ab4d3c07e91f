"""Load a job's checkpoint safely, and refuse one made for a different model.

Checkpoints hold only tensors and plain containers, so they load with
`torch.load(weights_only=True)`. `load_checkpoint(path, expected)` also compares the network
config stored in the checkpoint with the one a run or an eval script expects.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from sweeplab.config import ConfigError

#: hyperparameters that must agree for the weights to fit the network
SHAPE_KEYS = ("net", "input_shape", "num_classes", "out_features", "loss")


class CheckpointMismatch(ConfigError):
    """The checkpoint was trained with a different model config."""


def _plain(value: Any) -> Any:
    if isinstance(value, DictConfig) or OmegaConf.is_config(value):
        return OmegaConf.to_container(value, resolve=True)
    return value


def differences(saved: dict[str, Any], expected: dict[str, Any], prefix: str = "") -> list[str]:
    """`key: saved -> expected` for every key whose value differs (nested dicts flattened)."""
    out = []
    for key in sorted(set(saved) | set(expected), key=str):
        a, b = saved.get(key, "<unset>"), expected.get(key, "<unset>")
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, name + ".")
        elif a != b and not (isinstance(a, list | tuple) and isinstance(b, list | tuple)
                             and list(a) == list(b)):
            out.append(f"{name}={a} in the checkpoint but {b} here")
    return out


def expected_hparams(expected: DictConfig | dict[str, Any]) -> dict[str, Any]:
    """Accept a run config (with a `model` group), a module's hparams, or a bare model config."""
    expected = _plain(expected)
    if "model" in expected and isinstance(expected["model"], dict):
        return {"net": expected["model"]}
    if "net" in expected:  # a module's: resuming also needs the optimiser it was trained with
        return {k: expected[k] for k in (*SHAPE_KEYS, "optim") if k in expected}
    return {"net": expected}


def check_matches(path: str | Path, saved: dict[str, Any],
                  expected: DictConfig | dict[str, Any]) -> None:
    """Raise CheckpointMismatch naming every differing key."""
    want = expected_hparams(expected)
    got = {k: _plain(saved.get(k)) for k in want}
    diffs = [d.replace("net.", "model.", 1) if d.startswith("net.") else d
             for d in differences(got, want)]
    if diffs:
        what = "for a different model" if all(d.startswith(("model.", "input_shape", "num_",
                                                            "out_", "loss")) for d in diffs) \
            else "with different settings"
        raise CheckpointMismatch(f"{path}: made {what}: {'; '.join(diffs)}; resume with the "
                                 f"settings it was made with, or start a new run")


def load_problem(exc: Exception) -> str:
    """Why torch.load failed, in one line. torch's message for a file holding more than
    tensors advises `weights_only=False`, which runs whatever the file names: never repeat it."""
    text = str(exc).strip()
    if "Weights only load failed" in text or "weights_only" in text:
        return ("it holds objects other than tensors and plain containers, so it is not a "
                "sweeplab checkpoint and is not loaded")
    return text.splitlines()[0] if text else type(exc).__name__


def load_checkpoint(path: str | Path, expected: DictConfig | dict[str, Any] | None = None
                    ) -> dict[str, Any]:
    """The checkpoint dict (`torch.load(weights_only=True)`), checked against `expected`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such checkpoint")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"{path}: cannot load checkpoint ({load_problem(exc)})") from None
    if expected is not None:
        check_matches(path, ckpt.get("hyper_parameters", {}), expected)
    return ckpt


def temporary_path(path: Path) -> Path:
    """Where a file is written before it is renamed to `path` (hidden, one per process)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def replace_atomically(path: Path, write) -> None:
    """`write(tmp)`, then rename `tmp` to `path`: a kill never leaves half a checkpoint, and a
    failed write (a full disk) leaves no temporary file and names `path` in its OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise OSError(exc.errno, os.strerror(exc.errno), str(path)) from None
        raise


def save_trainer_checkpoint(trainer, path: str | Path) -> None:
    """The trainer's full checkpoint (what `resume=true` continues from), written atomically."""
    if not trainer.is_global_zero:  # a collective call: every rank takes part, rank 0 writes
        trainer.save_checkpoint(path, weights_only=False)
        return
    replace_atomically(Path(path), lambda tmp: trainer.save_checkpoint(tmp, weights_only=False))


def save_module(module, path: str | Path, epoch: int, global_step: int) -> None:
    """A module's weights and hyperparameters as Lightning's checkpoint keys name them, so
    `<Module>.load_from_checkpoint(path, weights_only=True)` loads it; written to a temporary
    file and renamed, so a kill never leaves half a checkpoint. (A stack's members have no
    Trainer of their own to call `save_checkpoint` on.)"""
    import lightning as L

    replace_atomically(Path(path), lambda tmp: torch.save(
        {"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
         "pytorch-lightning_version": L.__version__, "epoch": epoch,
         "global_step": global_step}, tmp))
