"""The Python API: the config a command line would run, and one job run from it.

    import sweeplab
    cfg = sweeplab.compose(["data=spiral", "model=mlp", "trainer.max_epochs=2"])
    record = sweeplab.run(cfg)  # trains and tests; metrics.json and logs in cfg.paths.output_dir
    record.metrics["test/acc"]

The configs are those `sweeplab-train` uses: `conf/` of the repository, shipped in the wheel as
`sweeplab/conf`. Your own config folder extends them through Hydra's search path:
`compose([...], config_dirs=["conf"])` or, on the command line, `hydra.searchpath=[file://conf]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the API stays cheap to import; torch and Lightning load when a job runs
    from omegaconf import DictConfig

    from sweeplab.record import JobRecord

HERE = Path(__file__).resolve().parent


def config_dir() -> Path:
    """The packaged configs: `sweeplab/conf` in an installed wheel, `conf/` in a checkout
    (pyproject maps the one to the other)."""
    for folder in (HERE / "conf", HERE.parents[1] / "conf"):
        if (folder / "train.yaml").is_file():
            return folder
    raise FileNotFoundError(f"no train.yaml in {HERE / 'conf'} or {HERE.parents[1] / 'conf'}")


def searchpath_override(dirs: Sequence[str | Path]) -> str:
    """`hydra.searchpath=[...]` naming config folders (absolute, as the job may run elsewhere)."""
    return "hydra.searchpath=[" + ",".join(f"file://{Path(d).resolve()}" for d in dirs) + "]"


def compose(overrides: Sequence[str] = (), config_dirs: Sequence[str | Path] = ()
            ) -> DictConfig:
    """The config `sweeplab-train <overrides>` would run, its output folder fixed (a new
    time-stamped folder under outputs/runs/, or `paths.output_dir=...` if given). Hydra's
    exceptions propagate: an unknown key or option raises."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf, open_dict

    from sweeplab.resolvers import register

    register()
    overrides = list(overrides)
    if config_dirs:
        overrides.append(searchpath_override(config_dirs))
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = hydra_compose(config_name="train", overrides=overrides, return_hydra_config=True)
    run_dir = OmegaConf.select(cfg, "hydra.run.dir")  # what Hydra's own run would use
    with open_dict(cfg):
        if OmegaConf.is_interpolation(cfg.paths, "output_dir"):  # ${hydra:runtime.output_dir}
            cfg.paths.output_dir = str(Path(run_dir).resolve())
        del cfg["hydra"]
    return cfg


def run(cfg: DictConfig) -> JobRecord:
    """Train and test one job from a composed config; its record (status, metrics), also
    written to `<paths.output_dir>/metrics.json`. Bad config or data raises ConfigError or
    DataError; a diverged run raises Diverged."""
    from sweeplab.record import JobRecord
    from sweeplab.train import train

    train(cfg)
    return JobRecord.read(Path(cfg.paths.output_dir))
