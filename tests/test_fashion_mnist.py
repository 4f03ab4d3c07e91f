"""Real data: the default CNN learns Fashion-MNIST from Debian's dataset-fashion-mnist package."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sweeplab.data.mnist import FashionMNISTData
from sweeplab.train import train

DEBIAN_DIR = Path(FashionMNISTData.system_dirs[0])


@pytest.mark.slow
@pytest.mark.skipif(not DEBIAN_DIR.is_dir(),
                    reason=f"Fashion-MNIST not installed at {DEBIAN_DIR} "
                           "(apt-get install dataset-fashion-mnist)")
def test_cnn_reaches_80_percent_on_fashion_mnist(make_cfg, tmp_path):
    # 20,000 training images, 2 epochs: about 0.86 test accuracy in ~20 s on one thread
    cfg = make_cfg("data=fashion_mnist", "data.download=false", "data.train_size=20000",
                   "data.val_size=1000", "data.batch_size=64", "model=cnn", "optim=adam",
                   "optim.lr=0.002", "trainer.max_epochs=2", "callbacks=none")
    train(cfg)
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "completed"
    assert record["metrics"]["test/acc"] >= 0.80
    # the Debian .gz files are read where they are installed: nothing is copied
    assert not (tmp_path / "data" / "FashionMNIST").exists()
