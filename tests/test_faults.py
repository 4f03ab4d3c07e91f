"""The fault suite: for each way a run can be attacked or go wrong, what is kept and what the
user is told (README: "When things go wrong"). Each case is one row: what is done, the exit
code, the line the user reads, and what must (not) be on disk afterwards."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from conftest import QUIET, ROOT, compose_config, run_script
from fakedata import write_image_tree, write_mnist
from sweeplab.config import ConfigError
from sweeplab.record import JobRecord
from sweeplab.train import main

COMMON = ["model=mlp", "model.hidden=4", "trainer.max_epochs=2", "logger=csv"]
SPIRAL = ["data=spiral", "data.n_per_class=20", *COMMON]


def run_main(argv: list[str], tmp_path: Path, capsys) -> tuple[int, str]:
    """A single run through `train.main`: its exit code (0 if it returned) and stderr."""
    try:
        main(compose_config(argv, tmp_path))
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


# ---------------------------------------------------------------- crafted job folders (item 1)


def crafted_job(folder: Path, marker: Path, where: str) -> Path:
    """A job folder whose config and checkpoint name `subprocess.Popen` (as model or data) with
    arguments that would create `marker`; both load with `weights_only=True`."""
    popen = {"_target_": "subprocess.Popen", "args": ["touch", str(marker)], "loss": "auto"}
    model = popen if where == "model" else {"_target_": "sweeplab.models.mlp.MLP", "hidden": 4,
                                             "loss": "auto"}
    data = popen if where == "data" else {"_target_": "sweeplab.data.spiral.SpiralData"}
    (folder / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create({"model": model, "data": data, "paths": {}}),
                   folder / ".hydra" / "config.yaml")
    (folder / "checkpoints").mkdir()
    ckpt = folder / "checkpoints" / "last.ckpt"
    torch.save({"hyper_parameters": {"net": model, "optim": {}, "init": None,
                                     "input_shape": [2], "num_classes": 3, "loss": "auto"},
                "state_dict": {}}, ckpt)
    return ckpt


@pytest.mark.parametrize("where", ["model", "data"])
def test_a_crafted_job_folder_cannot_run_code(where, tmp_path):
    marker = tmp_path / "pwned"
    ckpt = crafted_job(tmp_path / "job", marker, where)
    for script in ("eval.py", "predict.py"):
        result = run_script([script, f"ckpt_path={ckpt}"], cwd=tmp_path)
        assert result.returncode == 2, result.stderr[-2000:]
        assert f"{where}._target_: 'subprocess.Popen' is not a sweeplab" in result.stderr
        assert "Traceback" not in result.stderr
    assert not marker.exists()


def test_a_checkpoint_holding_objects_is_refused_without_advising_weights_only_false(tmp_path):
    from sweeplab.checkpoints import load_checkpoint

    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": argparse.Namespace(net=1)}, path)
    with pytest.raises(ConfigError) as info:
        load_checkpoint(path)
    assert "not a sweeplab checkpoint" in str(info.value)
    assert "weights_only" not in str(info.value)


# ---------------------------------------------------------------- degenerate data (items 9-13)

#: (name, overrides, files to write, exit code, text of the one error line)
DATA_CASES = [
    ("test_size larger than the data", [*SPIRAL, "data.test_size=5000"], None, 2,
     "the val split is empty (1 train, 0 val, 59 test) with data.val_size=0.2, "
     "data.test_size=5000"),
    ("one image per class", ["data=image_folder", "data.image_size=8"], "one_per_class", 2,
     "split is empty (2 train, 0 val, 0 test) with data.val_size=0.2"),
    ("empty IDX files", ["data=mnist", "data.download=false"], "empty_mnist", 2,
     "holds no labels (an empty IDX file)"),
    ("a link out of the image root", ["data=image_folder", "data.image_size=8"], "link_out", 2,
     "outside data.root"),
]


def write_files(kind: str | None, tmp_path: Path) -> list[str]:
    if kind == "one_per_class":
        return [f"data.root={write_image_tree(tmp_path / 'images', per_class=1)}"]
    if kind == "empty_mnist":
        write_mnist(tmp_path / "data", n_train=0, n_test=0)
    if kind == "link_out":
        root = write_image_tree(tmp_path / "images", per_class=3)
        write_image_tree(tmp_path / "elsewhere", classes=("secret",), per_class=1)
        (root / "dog" / "x.png").symlink_to(tmp_path / "elsewhere" / "secret" / "0.png")
        return [f"data.root={root}"]
    return []


@pytest.mark.parametrize("name,argv,files,code,message", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_data_that_cannot_train_stops_with_one_line(name, argv, files, code, message, tmp_path,
                                                    capsys):
    got, err = run_main([*COMMON, *argv, *write_files(files, tmp_path)], tmp_path, capsys)
    assert got == code
    assert message in err and err.startswith("error: ") and "Traceback" not in err


def test_image_folder_ignores_hidden_folders_and_files(tmp_path):
    from sweeplab.data.image_folder import ImageFolderData

    root = write_image_tree(tmp_path / "images", per_class=2)
    write_image_tree(root / ".ipynb_checkpoints", classes=("cat",), per_class=1)
    (root / "cat" / ".hidden.png").write_bytes(b"not an image")
    dm = ImageFolderData(root=str(root), image_size=8, val_size=1)
    assert dm.class_names == ["cat", "dog"]
    dm.setup()
    assert len(dm.splits["train"].y) + len(dm.splits["val"].y) == 4


def test_a_validation_split_larger_than_the_training_set_is_said(tmp_path, caplog):
    from sweeplab.data.mnist import MNISTData

    write_mnist(tmp_path / "data", n_train=30, n_test=10)
    dm = MNISTData(data_dir=str(tmp_path / "data"), download=False, val_size=20)
    with caplog.at_level(logging.WARNING):
        dm.setup()
    assert "data.val_size=20 holds out 20 examples for validation and leaves 10" in caplog.text


def test_a_failed_download_leaves_no_empty_folders(tmp_path):
    from sweeplab.data.mnist import MNISTData

    class Offline:
        def __init__(self, root: str, **kwargs) -> None:
            (Path(root) / "MNIST" / "raw").mkdir(parents=True)  # as torchvision does
            raise OSError("Name or service not known")

    data_dir = tmp_path / "data"
    error = MNISTData(data_dir=str(data_dir))._try_download(Offline)
    assert "Name or service not known" in str(error)
    assert not data_dir.exists()


def test_an_empty_sweep_stops_with_one_line(tmp_path):
    result = run_script(["train.py", "-m", *SPIRAL, "seed=range(0,0)", *QUIET,
                         f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=tmp_path)
    assert result.returncode == 2
    assert "error: seed=range(0,0): no values to sweep over" in result.stderr
    assert not (tmp_path / "sweep").exists()


# ---------------------------------------------------------------- signals, folders (items 2, 8, 11)


def sweep_args(tmp_path: Path, *extra: str) -> list[str]:
    return ["train.py", "-m", *SPIRAL, "seed=0,1", *QUIET, *extra,
            f"hydra.sweep.dir={tmp_path / 'sweep'}"]


def test_a_signal_after_the_last_step_stops_the_sweep_after_that_job(tmp_path):
    flag = tmp_path / "signalled"
    env = {"PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'tests'}"}
    args = sweep_args(tmp_path, "+callbacks.late={_target_:robust_helpers.SignalAfterTraining,"
                                f"flag:'{flag}'}}")
    result = run_script(args, cwd=tmp_path, env=env)
    assert result.returncode == 143, result.stderr[-2000:]
    assert "after this job completed" in result.stderr and "resume=true" in result.stderr
    records = sorted((tmp_path / "sweep").glob("*/metrics.json"))
    assert len(records) == 1 and '"completed"' in records[0].read_text()  # job 2 never started

    again = run_script([*args, "resume=true"], cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(list((tmp_path / "sweep").glob("*/metrics.json"))) == 2


def test_a_second_sweep_into_a_busy_folder_stops_with_one_line(tmp_path):
    from sweeplab.sweep.lock import LOCK_FILE

    holder = subprocess.Popen(  # another process holding the folder's lock
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from sweeplab.sweep.lock import lock_folder; lock_folder(Path(sys.argv[1])); "
         "print('locked', flush=True); time.sleep(600)", str(tmp_path / "sweep")],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = run_script(sweep_args(tmp_path), cwd=tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2
    assert f"another sweep (pid {holder.pid}) is running in this folder" in result.stderr
    assert sorted(p.name for p in (tmp_path / "sweep").iterdir()) == [LOCK_FILE]


def read_only_mount(folder: Path) -> bool:
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(folder)],
                          capture_output=True)
    return done.returncode == 0


@pytest.mark.parametrize("kind", ["file", "read-only mount"])
def test_an_unusable_output_folder_stops_with_one_line_naming_it(kind, tmp_path):
    place = tmp_path / "out"
    if kind == "file":
        place.write_text("")
    elif not read_only_mount(place):
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        for args in ([*SPIRAL, *QUIET, f"hydra.run.dir={place / 'run'}"],
                     ["-m", *SPIRAL, *QUIET, f"hydra.sweep.dir={place / 'sweep'}"]):
            result = run_script(["train.py", *args], cwd=tmp_path)
            assert result.returncode == 2
            assert result.stderr.startswith(f"error: {place}: ")
            assert "Traceback" not in result.stderr
    finally:
        if kind != "file":
            subprocess.run(["umount", str(place)], check=True)


def test_resuming_with_a_changed_learning_rate_is_refused_naming_it(tmp_path, capsys):
    run_dir = tmp_path / "run"
    stop = "+callbacks.stop={_target_:robust_helpers.SignalAtStep,step:2}"
    code, _ = run_main([*SPIRAL, stop], run_dir, capsys)
    assert code == 143 and (run_dir / "checkpoints" / "last.ckpt").is_file()
    code, err = run_main([*SPIRAL, "optim.lr=0.5", "resume=true"], run_dir, capsys)
    assert code == 2
    assert "optim.lr=0.1 in the checkpoint but 0.5 here" in err


# ---------------------------------------------------------------- a signal at any moment


def signalled_run(args: list[str], cwd: Path, signals: list[int]) -> tuple[int, str]:
    """Run `scripts/<args>`; each time it says it has paused, send it the next of `signals`.
    Its exit code and stderr."""
    err_path = cwd / "stderr.txt"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'tests'}", "OMP_NUM_THREADS": "1"}
    with err_path.open("w") as err:
        proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / args[0]), *args[1:]],
                                cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        for signum in signals:
            for line in proc.stdout:
                if line.startswith("sweeplab-test: paused at"):
                    break
            proc.send_signal(signum)
        proc.stdout.read()
        proc.wait(timeout=300)
    return proc.returncode, err_path.read_text()


def pause_at(phase: str, flag: Path, signals: int = 1) -> str:
    return (f"+hydra.callbacks.pause={{_target_:robust_helpers.PauseAtPhase,phase:{phase},"
            f"flag:'{flag}',signals:{signals}}}")


#: (case, phase, launcher, signal): a stop request at each moment of a sweep outside training
PHASE_CASES = [
    ("job setup, stacked", "job_start", "sweeplab", signal.SIGTERM),
    ("job setup, sequential", "job_start", "sequential", signal.SIGINT),
    ("between jobs, sequential", "job_end", "sequential", signal.SIGTERM),
    ("between stacks", "job_end", "sweeplab", signal.SIGINT),
    ("summary", "multirun_end", "sweeplab", signal.SIGTERM),
]


@pytest.mark.parametrize("name,phase,launcher,signum", PHASE_CASES, ids=[c[0] for c in PHASE_CASES])
def test_a_signal_outside_training_stops_with_the_summary_and_the_resume_line(
        name, phase, launcher, signum, tmp_path):
    args = sweep_args(tmp_path, f"hydra/launcher={launcher}", pause_at(phase, tmp_path / "flag"))
    code, err = signalled_run(args, tmp_path, [signum])
    assert code == 128 + signum, err[-2000:]
    assert "Traceback" not in err and "resume=true" in err
    assert (tmp_path / "sweep" / "summary.md").is_file()
    statuses = [JobRecord.read(p.parent).status
                for p in (tmp_path / "sweep").glob("*/metrics.json")]
    assert "running" not in statuses

    again = run_script([*args, "resume=true"], cwd=tmp_path,
                       env={"PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'tests'}"})
    assert again.returncode == 0, again.stderr[-2000:]
    assert [JobRecord.read(p.parent).status
            for p in (tmp_path / "sweep").glob("*/metrics.json")] == ["completed"] * 2


SECOND_SIGNAL_CASES = [  # (case, launcher, where it pauses for two signals)
    ("job setup, stacked", "sweeplab", pause_at("job_start", Path("flag"), signals=2)),
    ("job setup, sequential", "sequential", pause_at("job_start", Path("flag"), signals=2)),
    ("training, sequential", "sequential",
     "+callbacks.pause={_target_:robust_helpers.PauseAtStep,step:2,signals:2}"),
]


@pytest.mark.parametrize("name,launcher,pause", SECOND_SIGNAL_CASES,
                         ids=[c[0] for c in SECOND_SIGNAL_CASES])
def test_a_second_signal_while_stopping_exits_at_once_with_the_signal_code(name, launcher, pause,
                                                                           tmp_path):
    args = sweep_args(tmp_path, f"hydra/launcher={launcher}", pause)
    code, err = signalled_run(args, tmp_path, [signal.SIGTERM, signal.SIGTERM])
    assert code == 128 + signal.SIGTERM, err[-2000:]
    assert "Traceback" not in err
    assert "stopped at once" in err or "interrupted before a checkpoint was saved" in err


# ---------------------------------------------------------------- a full disk


def full_disk(monkeypatch, what: str) -> None:
    """Writes of `what` (the checkpoint or the record) fail as on a full disk, after part of
    the file is written."""
    import errno

    import lightning as L

    def no_space(path) -> None:
        Path(path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if what == "checkpoint":
        monkeypatch.setattr(L.Trainer, "save_checkpoint", lambda self, path, **kw: no_space(path))
    else:
        write_text = Path.write_text
        monkeypatch.setattr(Path, "write_text", lambda self, text, **kw: no_space(self)
                            if self.name.startswith(".metrics.json") else write_text(self, text))


@pytest.mark.parametrize("what,file", [("checkpoint", "checkpoints/last.ckpt"),
                                       ("record", "metrics.json")])
def test_a_full_disk_fails_the_job_with_one_line_naming_the_file(what, file, tmp_path, capsys,
                                                                  monkeypatch):
    full_disk(monkeypatch, what)
    code, err = run_main(SPIRAL, tmp_path, capsys)
    assert code == 1
    assert err == f"error: [Errno 28] No space left on device: '{tmp_path / file}'\n"
    assert not [p for p in tmp_path.rglob(".*") if p.name.endswith(".tmp")]
    if what == "checkpoint":
        assert JobRecord.read(tmp_path).status == "failed"


#: (changed on resume, exit code, what the one error line names; None: the job resumes)
RESUME_CHANGES = [
    (["data.batch_size=8"], 2, "data.batch_size: 20 -> 8"),
    (["trainer.gradient_clip_val=1.0", "data.noise=0.3"], 2,
     "data.noise: 0.2 -> 0.3; trainer.gradient_clip_val: None -> 1.0"),
    (["seed=1"], 2, "data.seed: 0 -> 1; seed: 0 -> 1"),
    (["trainer.max_epochs=3", "data.eval_batch_size=7"], 0, None),  # train longer
]


@pytest.mark.parametrize("changed,code,message", RESUME_CHANGES,
                         ids=[" ".join(c[0]) for c in RESUME_CHANGES])
def test_resuming_with_changed_data_or_trainer_settings_is_refused_naming_them(
        changed, code, message, tmp_path, capsys):
    run_dir = tmp_path / "run"
    stop = "+callbacks.stop={_target_:robust_helpers.SignalAtStep,step:2}"
    assert run_main([*SPIRAL, stop], run_dir, capsys)[0] == 143
    got, err = run_main([*SPIRAL, *changed, "resume=true"], run_dir, capsys)
    assert got == code, err
    if message is None:
        assert JobRecord.read(run_dir).status == "completed"
    else:
        assert err.startswith("error: ") and err.count("\n") == 1
        assert f"made with different settings: {message}; resume with" in err


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Whether process `pid` (not necessarily a child) has ended within `timeout` seconds,
    waiting on its pidfd rather than polling."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


@pytest.mark.slow  # two runs of a joblib sweep, each starting two worker processes
def test_sigterm_to_a_joblib_sweep_stops_its_workers_and_resume_completes(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    args = ["train.py", "-m", *SPIRAL, "trainer.max_epochs=3", "seed=0,1", *QUIET,
            "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
            f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'tests'}", "OMP_NUM_THREADS": "1"}
    pause = "+callbacks.pause={_target_:robust_helpers.PauseAtStep,step:3}"
    with (tmp_path / "stderr.txt").open("w") as err:
        proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / args[0]), *args[1:], pause],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=err,
                                text=True)
        workers = []
        for line in proc.stdout:  # both workers are training, paused at step 3
            if line.startswith("sweeplab-test: paused at step 3"):
                workers.append(int(line.rsplit("pid ", 1)[1].rstrip(")\n")))
                if len(workers) == 2:
                    break
        proc.send_signal(signal.SIGTERM)
        proc.stdout.read()
        assert proc.wait(timeout=300) == 128 + signal.SIGTERM, (tmp_path / "stderr.txt").read_text()
    assert all(wait_for_exit(pid, timeout=60) for pid in workers)
    assert "resume=true" in (tmp_path / "stderr.txt").read_text()
    records = [JobRecord.read(p.parent) for p in (tmp_path / "sweep").glob("*/metrics.json")]
    assert [r.status for r in records] == ["interrupted"] * 2

    again = run_script([*args, "resume=true"], cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    records = [JobRecord.read(p.parent) for p in (tmp_path / "sweep").glob("*/metrics.json")]
    assert [(r.status, r.metrics["steps"]) for r in records] == [("completed", 6.0)] * 2
