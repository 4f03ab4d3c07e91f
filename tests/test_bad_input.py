"""Bad configuration and bad data stop with one line naming the key or file, exit code 2."""

from __future__ import annotations

import contextlib
import gzip
import io
import struct

import pytest
import torch

from conftest import CONF, compose_config, run_script
from sweeplab.cli import preflight
from sweeplab.train import main

# (command-line arguments, text the message must contain)
BAD_CONFIGS = [
    (["model=cnnn"], "model=cnnn: no such option; allowed: cnn, deep"),
    (["model.hiden=5"], "model.hiden: unknown key"),
    (["model.hidden=abc"], "model.hidden: expected an integer"),
    (["model=deep", "model.hidden=5"], "model.hidden: expected a list"),
    (["model.dropout=1.5"], "model.dropout: must be in [0, 1)"),
    (["model=logistic", "model.batchnorm=true"], "model.batchnorm: unknown key"),
    (["model=cnn", "data=digits", "data.image_size=16", "model.input_shape=[1,28,28]"],
     "model.input_shape=[1, 28, 28] does not match"),
    (["model=cnn", "model.channels=[8,8,8,8,8,8]"], "shrink 28x28 inputs to 0x0"),
    (["model=logistic", "data=spiral"], "model=logistic needs two-class data"),
    (["data=polynomial", "model=cnn"], "does not fit regression data"),
    (["+new.key=1"], "new: unknown top-level key"),
    (["+model.extra=1"], "model.extra: unknown key"),
    (["-m", "optim.lr=0.1,-1"], "optim.lr: must be > 0, got -1.0 (in sweep job 1"),
    (["-m", "model.activation=relu,sigmoidd"], "model.activation: 'sigmoidd' is not allowed"),
    (["optim.lr=[0.1"], "optim.lr=[0.1: cannot parse"),
    (["-m", "optim.lr=range(1,"], "optim.lr=range(1,: cannot parse"),
    (["-m", "hydra/launcher=nope"],
     "hydra/launcher=nope: no such option; allowed: basic, batched, joblib"),
    (["-m", "hydra.launcher=nope"], "hydra.launcher=nope: not a launcher config"),
    (["experiment=nope"], "experiment=nope: no such option"),
    (["seed=-1"], "seed: must be >= 0"),
    (["threads=x"], "threads: expected an integer"),
    (["trainer.max_epochs=0"], "trainer.max_epochs: must be >= 1"),
    (["trainer.accelerator=tpu"], "trainer.accelerator: 'tpu' is not allowed"),
    (["optim=adam", "optim.momentum=0.9"], "optim.momentum: unknown key for optim=adam"),
    (["init=xavier", "init.gain=-1"], "init.gain: must be > 0"),
    (["data=spiral", "data.classes=1"], "data.classes: must be >= 2"),
    (["data.batch_size=0"], "data.batch_size: must be >= 1"),
    (["data=image_folder"], "data.root: must name a folder"),
    (["data=image_folder", "data.root=/nonexistent"], "/nonexistent: no such folder"),
    (["optimized_metric=val/accuracy"], "optimized_metric: 'val/accuracy' is not allowed"),
    (["resume=maybe"], "resume:"),
    (["optim.lr=-1"], "optim.lr: must be > 0, got -1.0"),
    (["optim.momentum=1.5"], "optim.momentum: must be in [0, 1), got 1.5"),
    (["model.dropout=1"], "model.dropout: must be in [0, 1), got 1.0"),
    (["optim.lr=abc"], "optim.lr: expected a number, got 'abc'"),
    (["data.foo=1"], "data.foo: unknown key for data=mnist; allowed: "),
    (["data=digits", "data.image_size=16", "model=cnn", "model.input_shape=[1,28,28]"],
     "model.input_shape=[1, 28, 28] does not match the data (DigitsData gives inputs of "
     "shape [1, 16, 16])"),
    (["model.activation=swish"],
     "model.activation: 'swish' is not allowed; allowed: sigmoid, tanh"),
    (["data=spiral", "model=softmax", "model.activation=relu"],
     "model.activation: unknown key for model=softmax"),
    (["data=spiral", "model=logistic"],
     "model=logistic needs two-class data; SpiralData has 3"),
    (["data=spiral", "model=cnn"], "model=cnn needs image data"),
    (["data=digits", "model=cnn", "model.channels=[4,4,4,4]"], "model=cnn: 4 conv blocks"),
    (["data=spiral", "model=deep", "model.hidden=abc"], "model.hidden: expected a list"),
    (["init=he", "init.distribution=cauchy"],
     "init.distribution: 'cauchy' is not allowed; allowed: uniform, normal"),
    (["trainer.precision=32-tru"],
     "trainer.precision: '32-tru' is not allowed; allowed: 32-true, 16-mixed"),
    (["foo=1"], "foo: unknown key; allowed: task_name, seed, threads"),
    (["seed=1.5"], "error: seed: expected an integer, got '1.5'"),
    (["threads=100000"], "threads: must be 0 (automatic) to 1024, got 100000"),
    (["checkpoint.every_n_epochs=-1"], "checkpoint.every_n_epochs: must be >= 0"),
    (["checkpoint.min_interval_s=x"], "checkpoint.min_interval_s: expected a number"),
    (["checkpoint.every_epoch=1"], "checkpoint.every_epoch: unknown key; allowed: every_n_epochs"),
    (["trainer.limit_train_batches=-1"], "trainer.limit_train_batches: must be a fraction"),
    (["trainer.accumulate_grad_batches=0"], "trainer.accumulate_grad_batches: must be a whole"),
    (["trainer.strategy=bogus"], "trainer.strategy: 'bogus' is not allowed; allowed: auto, ddp"),
    (["trainer.devices=0"], "trainer.devices: must be auto, -1 (all), a count >= 1"),
    (["init=uniform", "init.high=inf"], "init.high: must be a finite number, got inf"),
    (["paths.data_dir=~/mnist"], "Hydra does not read ~ inside a value; write the full path"),
    (["data=spiral", "data.val_size=0"], "data.val_size: must be a fraction in (0, 1)"),
    (["data=spiral", "data.test_size=0"], "data.test_size: must be a fraction in (0, 1)"),
    (["data=polynomial", "data.n_val=0"], "data.n_val: must be >= 1, got 0"),
    (["optimized_metric=test/acc", "test=false"],
     "optimized_metric: test/acc needs test=true"),
    (["-m", "trainer.max_epochs=1,2", "trainer.devices=0"],
     "trainer.devices: must be auto, -1 (all), a count >= 1"),
    (["model.dropout=0,0.5"], "add -m to sweep"),
    (["seed=4294967296"], "seed: must be <= 4294967295"),
    (["trainer.logger=false"], "trainer.logger: unknown key"),
    (["trainer.enable_checkpointing=false"], "trainer.enable_checkpointing: must stay true"),
    (["optim._target_=os.system"],
     "optim._target_: 'os.system' is not a torch.optim optimiser"),
    (["model._target_=subprocess.Popen"], "model._target_: 'subprocess.Popen' is not known"),
]


def preflight_error(argv: list[str]) -> tuple[int | None, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_info:
        preflight(argv, CONF)
    return exit_info.value.code, err.getvalue()


@pytest.mark.parametrize("argv,expected", BAD_CONFIGS, ids=[" ".join(a) for a, _ in BAD_CONFIGS])
def test_bad_config_stops_with_one_line_naming_the_key(argv, expected):
    code, message = preflight_error(argv)
    assert code == 2
    assert message.startswith("error: ") and message.count("\n") == 1
    assert expected in message
    assert "Traceback" not in message


def test_error_inside_an_experiment_file_names_the_key(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "typo.yaml").write_text("# @package _global_\nmodel:\n  hiden: 5\n")
    code, message = preflight_error([f"hydra.searchpath=[file://{tmp_path}]", "experiment=typo"])
    assert code == 2 and "model.hiden: unknown key" in message


# ---------------------------------------------------------------- bad data files


def idx_bytes(data: torch.Tensor) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, data.dim())
    header += b"".join(struct.pack(">I", n) for n in data.shape)
    return header + data.to(torch.uint8).numpy().tobytes()


def write_mnist(raw, n_train: int = 30, n_test: int = 10) -> None:
    """A tiny valid MNIST in torchvision's layout, as .gz files."""
    raw.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = torch.randint(0, 256, (n, 28, 28), generator=g)
        labels = torch.arange(n) % 10
        for name, data in ((f"{prefix}-images-idx3-ubyte", images),
                           (f"{prefix}-labels-idx1-ubyte", labels)):
            (raw / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(data)))


def truncate_gz(raw):
    path = raw / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    return path.name, "truncated gzip file"


def garbage_gz(raw):
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(b"this is not gzip data at all")
    return "t10k-labels-idx1-ubyte.gz", "not a valid gzip file"


def wrong_magic(raw):
    labels = (raw / "train-labels-idx1-ubyte.gz").read_bytes()
    (raw / "train-images-idx3-ubyte.gz").write_bytes(labels)  # a label file where images go
    return "train-images-idx3-ubyte.gz", "wrong magic number 0x00000801; expected 0x00000803"


def count_mismatch(raw):
    labels = torch.arange(29) % 10
    (raw / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    return "train-labels-idx1-ubyte.gz", "29 labels for 30 images"


def truncated_raw_idx(raw):
    data = gzip.decompress((raw / "t10k-images-idx3-ubyte.gz").read_bytes())
    (raw / "t10k-images-idx3-ubyte.gz").unlink()
    (raw / "t10k-images-idx3-ubyte").write_bytes(data[:-100])
    return "t10k-images-idx3-ubyte", "truncated: the header says 10x28x28 = 7840 bytes"


def label_out_of_range(raw):
    labels = torch.full((10,), 12)
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    return "t10k-labels-idx1-ubyte.gz", "label 12 is out of range for 10 classes"


@pytest.mark.parametrize("damage", [truncate_gz, garbage_gz, wrong_magic, count_mismatch,
                                    truncated_raw_idx, label_out_of_range])
def test_bad_mnist_file_stops_naming_the_file(damage, tmp_path, capsys):
    cfg = compose_config(["data=mnist", "data.download=false", "data.val_size=5"], tmp_path)
    write_mnist(tmp_path / "data" / "MNIST" / "raw")
    name, problem = damage(tmp_path / "data" / "MNIST" / "raw")
    with pytest.raises(SystemExit) as exit_info:
        main(cfg)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert name in err and problem in err and "Traceback" not in err


def image_tree(root, classes=("a", "b"), per_class: int = 3):
    from PIL import Image

    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(root / c / f"{i}.png")
    return root


def empty_folder(root):
    root.mkdir()
    return str(root), "needs at least two class folders"


def one_class(root):
    image_tree(root, classes=("cat",))
    return str(root), "found 1 (cat)"


def empty_class(root):
    image_tree(root)
    (root / "c").mkdir()
    return str(root / "c"), "no images in this class folder"


def unreadable_image(root):
    image_tree(root)
    (root / "b" / "broken.png").write_bytes(b"\x89PNG not really")
    return str(root / "b" / "broken.png"), "cannot read this image"


@pytest.mark.parametrize("damage", [empty_folder, one_class, empty_class, unreadable_image])
def test_bad_image_folder_stops_naming_the_folder_or_file(damage, tmp_path, capsys):
    root = tmp_path / "images"
    name, problem = damage(root)
    argv = ["data=image_folder", f"data.root={root}", "data.image_size=8"]
    if damage is unreadable_image:  # found when the images are decoded, at job start
        with pytest.raises(SystemExit) as exit_info:
            main(compose_config(argv, tmp_path))
        code, err = exit_info.value.code, capsys.readouterr().err
    else:  # found by listing the folder, before any job starts
        code, err = preflight_error(argv)
    assert code == 2
    assert name in err and problem in err and "Traceback" not in err


# ---------------------------------------------------------------- through the real script


def test_script_exits_2_without_traceback_on_bad_config(tmp_path):
    result = run_script(["train.py", "model=logistic", "model.batchnorm=true"], cwd=tmp_path)
    assert result.returncode == 2
    assert "model.batchnorm: unknown key" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_script_exits_2_without_traceback_on_corrupt_data(tmp_path):
    write_mnist(tmp_path / "data" / "MNIST" / "raw")
    truncate_gz(tmp_path / "data" / "MNIST" / "raw")
    result = run_script(["train.py", "data.download=false", "data.val_size=5", "threads=1",
                         f"paths.log_dir={tmp_path / 'out'}"], cwd=tmp_path)
    assert result.returncode == 2
    assert "train-images-idx3-ubyte.gz: truncated gzip file" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
