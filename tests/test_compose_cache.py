"""Composing a sweep's jobs from one composition per set of config-group choices gives the
configs Hydra composes one by one, and still stops a bad value in any job."""

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from conftest import CONF, run_script
from sweeplab.compose_cache import JobComposer


def _plain(cfg) -> dict:
    # the hydra node (override list, job dir name) is set by the launcher's composer
    return {k: v for k, v in OmegaConf.to_container(cfg, resolve=False).items() if k != "hydra"}


def test_value_only_jobs_compose_like_hydra():
    GlobalHydra.instance().clear()
    jobs = [["data=spiral", "model=mlp", "optim.lr=0.3", "model.hidden=7", "seed=4"],
            ["data=spiral", "model=mlp", "optim.lr=0.01", "optim.momentum=0.9"],
            ["data=xor", "model=deep", "model.hidden=[3,3]", "trainer.max_epochs=2"]]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        composer = JobComposer(CONF)
        for job in jobs:
            fast = composer(job)
            full = compose(config_name="train", overrides=job, return_hydra_config=True)
            assert _plain(fast) == _plain(full)
        assert len(composer.bases) == 2
    GlobalHydra.instance().clear()


def test_a_bad_value_in_a_later_job_still_stops_the_sweep(tmp_path):
    result = run_script(["train.py", "-m", "data=spiral", "model=mlp", "optim.lr=0.1,-1",
                         f"hydra.sweep.dir={tmp_path}/sweep"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: optim.lr: must be > 0, got -1.0 (in sweep job 1: optim.lr=-1)")
