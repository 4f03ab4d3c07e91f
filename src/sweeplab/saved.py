"""A finished job brought back from its folder: config, data and trained model, no training.

A job folder holds `.hydra/config.yaml` (the composed config), `.hydra/hydra.yaml` (where it ran
from) and `checkpoints/last.ckpt`. The scripts eval.py and predict.py rebuild the same
DataModule (same seed, so the same test split) and load the weights into the module.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
from omegaconf import DictConfig, OmegaConf

from sweeplab.checkpoints import load_checkpoint
from sweeplab.checks import build_datamodule
from sweeplab.config import ConfigError
from sweeplab.data.base import TensorDataModule
from sweeplab.errors import fail
from sweeplab.tasks import Classifier, Regressor

# Lightning's accelerator lines and tips would bury the few lines these scripts print
logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)


def parse_args(argv: list[str], defaults: dict, usage: str) -> DictConfig:
    """`key=value` arguments over `defaults`; exits 2 with one line for an unknown key."""
    if any(a in ("-h", "--help") for a in argv):
        print(usage.strip())
        raise SystemExit(0)
    try:
        given = OmegaConf.from_dotlist(argv)
    except Exception as exc:
        fail(f"cannot parse {' '.join(argv)} ({exc}); use key=value")
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        fail(f"{unknown[0]}: unknown argument; allowed: {', '.join(defaults)}")
    args = OmegaConf.merge(OmegaConf.create(defaults), given)
    if not args.get("ckpt_path"):
        fail("ckpt_path=<job dir>/checkpoints/last.ckpt is required")
    return args


def job_dir(ckpt_path: Path) -> Path:
    """The job folder of `<job dir>/checkpoints/<name>.ckpt` (the folder with .hydra/)."""
    for folder in (ckpt_path.parent.parent, ckpt_path.parent):
        if (folder / ".hydra" / "config.yaml").is_file():
            return folder
    raise ConfigError(f"{ckpt_path}: no .hydra/config.yaml in its job folder "
                      f"(expected <job dir>/checkpoints/last.ckpt)")


def job_config(folder: Path) -> DictConfig:
    """The job's config, its paths pointing where the job ran from and wrote to."""
    cfg = OmegaConf.load(folder / ".hydra" / "config.yaml")
    hydra_file = folder / ".hydra" / "hydra.yaml"
    if hydra_file.is_file():  # relative data paths are relative to where the job ran
        cfg.paths.root_dir = OmegaConf.load(hydra_file).hydra.runtime.cwd
    cfg.paths.output_dir = str(folder)
    return cfg


def load_job(ckpt_path: str | Path) -> tuple[DictConfig, TensorDataModule, L.LightningModule]:
    """The job's config, its DataModule (set up) and the module with the saved weights."""
    ckpt_path = Path(ckpt_path)
    if not ckpt_path.is_file():
        raise ConfigError(f"{ckpt_path}: no such checkpoint")
    cfg = job_config(job_dir(ckpt_path))
    dm = build_datamodule(cfg)  # sweeplab's datasets only; nothing is read yet
    ckpt = load_checkpoint(ckpt_path, cfg)  # refuses weights of a different model
    hparams = dict(ckpt["hyper_parameters"])
    module = (Classifier if "num_classes" in hparams else Regressor)(**hparams)
    try:
        module.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:  # keys or shapes that do not fit the network
        raise ConfigError(f"{ckpt_path}: weights do not fit the model it names "
                          f"({' '.join(str(exc).split())[:200]})") from None
    module.eval()
    dm.setup()
    return cfg, dm, module
