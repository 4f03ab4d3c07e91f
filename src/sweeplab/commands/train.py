"""Train one job, or sweep with -m: `sweeplab-train -m model.activation=sigmoid,relu`.

Hydra's command line over the packaged configs (`sweeplab-train --help` lists what it takes).
"""

from __future__ import annotations

import hydra

from sweeplab.api import config_dir
from sweeplab.cli import run
from sweeplab.train import main as train_main


def main() -> None:
    task = hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
    run(task(train_main))
