"""Train one job, or sweep with -m: `python scripts/train.py -m model.activation=sigmoid,relu`."""

import hydra
from omegaconf import DictConfig

from sweeplab.cli import run
from sweeplab.train import main as train_main


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return train_main(cfg)


if __name__ == "__main__":
    run(main)
