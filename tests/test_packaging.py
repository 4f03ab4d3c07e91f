"""sweeplab as an installed tool: the wheel carries the configs, the plugins and the commands;
`--help` says how to use it; the Python API; a user's own config folder extends the packaged one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import sweeplab
from conftest import CONF, QUIET, ROOT
from sweeplab.cli import preflight

TINY_SPIRAL = ["data=spiral", "data.n_per_class=50", "model=mlp", "trainer.max_epochs=2"]
MY_EXPERIMENT = """# @package _global_
# a user's experiment on a user's dataset, kept outside sweeplab
defaults:
  - override /data: myspiral
model:
  hidden: 7
"""


@pytest.fixture
def user_conf(tmp_path) -> Path:
    """A user's config folder: an experiment and a dataset built on the packaged spiral."""
    conf = tmp_path / "conf"
    (conf / "experiment").mkdir(parents=True)
    (conf / "data").mkdir()
    (conf / "experiment" / "mine.yaml").write_text(MY_EXPERIMENT)
    (conf / "data" / "myspiral.yaml").write_text("defaults:\n  - spiral\nn_per_class: 40\n")
    return conf


def test_pyproject_ships_every_package_and_config_group():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(project["tool"]["setuptools"]["packages"])
    code = {".".join(p.parent.relative_to(ROOT / "src").parts)
            for p in (ROOT / "src").rglob("__init__.py")}
    groups = {".".join(("sweeplab", "conf", *p.relative_to(CONF).parts))
              for p in CONF.rglob("*") if p.is_dir() and any(p.glob("*.yaml"))}
    assert listed == code | groups | {"sweeplab.conf"}
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"]["attr"] == "sweeplab.__version__"
    assert project["project"]["license"] == "MIT" and sweeplab.__version__ == "0.2.0"


def test_help_shows_usage_groups_exit_codes_and_outputs():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run([sys.executable, "-m", "sweeplab", "train", "--help"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for text in ("Usage: sweeplab-train [-m]", "resume=true", "hparams_search=spiral_optuna",
                 "data: digits, fashion_mnist", "experiment: activation_functions",
                 "== Exit codes ==", "128+N", "outputs/multirun/<task>/", "-sc install=bash",
                 "hydra.searchpath=[file://conf]"):
        assert text in result.stdout


def test_cfg_job_checks_the_config_without_fetching_data(tmp_path, capsys):
    empty = tmp_path / "no_data"
    with pytest.raises(SystemExit) as stopped:
        preflight(["optim.lr=-1", "--cfg", "job"], CONF)
    assert stopped.value.code == 2
    assert "optim.lr: must be > 0" in capsys.readouterr().err
    # MNIST is not there and may not be downloaded: printing its config still passes
    assert preflight(["--cfg=job", f"paths.data_dir={empty}", "data.download=false"], CONF) is None
    assert not empty.exists()


def test_a_users_config_folder_extends_the_packaged_configs(user_conf, tmp_path, monkeypatch):
    cfg = sweeplab.compose(["experiment=mine"], config_dirs=[user_conf])
    assert (cfg.data.n_per_class, cfg.model.hidden) == (40, 7)
    monkeypatch.chdir(tmp_path)  # file://conf is relative to where the command runs
    for argv in (["hydra.searchpath=[file://conf]", "experiment=mine", "--cfg", "job"],
                 ["-cd", "conf", "experiment=mine", "--cfg", "job"],
                 ["--config-dir=conf", "hydra.searchpath=[pkg://sweeplab]", "experiment=mine",
                  "--cfg", "job"]):
        assert preflight(argv, CONF) is None, argv  # composed and checked
    with pytest.raises(SystemExit):
        preflight(["experiment=mine", "--cfg", "job"], CONF)  # not on the search path


def test_python_api_composes_and_runs_one_job(tmp_path):
    cfg = sweeplab.compose([*TINY_SPIRAL, *QUIET, f"paths.output_dir={tmp_path / 'run'}"])
    record = sweeplab.run(cfg)
    assert record.status == "completed"
    assert record.optimized_metric == "val/acc" and 0 <= record.value <= 1
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
    default = sweeplab.compose(["data=spiral"])  # Hydra's own run folder, resolved
    assert "/outputs/runs/train/" in default.paths.output_dir and "hydra" not in default


def wheel_venv(tmp_path: Path) -> Path:
    """A fresh venv outside the repository with sweeplab installed from a wheel built from a
    copy of the repository's files. The heavy dependencies (torch, Lightning, Hydra) come from
    this interpreter's site-packages through a .pth line rather than a 5 GB download; its own
    .pth files (an editable sweeplab) are not read there."""
    src = tmp_path / "clone"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("src", "conf"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(tmp_path / "dist")], check=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = Path(subprocess.run([venv / "bin" / "python", "-c", "import sysconfig; "
                                "print(sysconfig.get_paths()['purelib'])"], check=True,
                               capture_output=True, text=True).stdout.strip())
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next((tmp_path / "dist").glob("sweeplab-*.whl"))
    subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "-q",
                    str(wheel)], check=True)
    return venv


@pytest.mark.slow
def test_wheel_installs_outside_the_repo_sweeps_and_evaluates(tmp_path):
    venv = wheel_venv(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(OMP_NUM_THREADS="1", PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")

    def command(*args: str, **extra) -> subprocess.CompletedProcess:
        return subprocess.run(args, cwd=work, env={**env, **extra}, capture_output=True,
                              text=True, timeout=600)

    where = command("python", "-c", "import sweeplab; print(sweeplab.__file__)")
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr  # not the checkout
    sweep = work / "sweep"
    result = command("sweeplab-train", "-m", "data=spiral", "model=mlp",
                     "model.activation=tanh,relu", "trainer.max_epochs=2", *QUIET,
                     f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| model.activation=relu | relu | completed |" in (sweep / "summary.md").read_text()
    assert "| model.activation=tanh | tanh | completed |" in (sweep / "summary.md").read_text()

    job = next(p.parent for p in sweep.glob("*/metrics.json"))
    # the weights the job was tested on (a sweep: its best epoch, best.ckpt, stacked or not)
    tested_on = json.loads((job / "metrics.json").read_text())["tested_on"]
    evaluated = command("sweeplab-eval", f"ckpt_path={job / 'checkpoints' / f'{tested_on}.ckpt'}")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    trained = json.loads((job / "metrics.json").read_text())["metrics"]
    assert json.loads((job / "eval_test.json").read_text())["test/acc"] == trained["test/acc"]

    assert "Usage: sweeplab-train" in command("sweeplab-train", "--help").stdout
    assert "complete -o nospace" in command("sweeplab-train", "-sc", "install=bash").stdout
    completed = command("sweeplab-train", "-sc", "query=bash", COMP_LINE="sweeplab-train data=sp")
    assert completed.stdout.split() == ["data=spiral"]


@pytest.mark.parametrize("program,command", [
    ("/home/me/venv/bin/sweeplab-train", "sweeplab-train"),
    ("scripts/train.py", "python scripts/train.py"),
    ("/site-packages/sweeplab/__main__.py", "python -m sweeplab train"),
])
def test_resume_hint_names_the_command_that_ran(program, command, monkeypatch):
    from sweeplab.runtime import resume_hint

    monkeypatch.setattr(sys, "argv", [program, "data=spiral", "resume=false"])
    assert resume_hint() == f"{command} data=spiral resume=true"
