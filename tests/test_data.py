"""DataModules and the shared in-memory loader: shapes, dtypes, seeding, splits, sharding."""

from __future__ import annotations

import pytest
import torch

from fakedata import write_image_tree, write_mnist
from sweeplab.data.base import split_off
from sweeplab.data.digits import DigitsData
from sweeplab.data.image_folder import ImageFolderData
from sweeplab.data.lines import LinesData
from sweeplab.data.loader import TensorLoader
from sweeplab.data.mnist import DataNotFoundError, FashionMNISTData, MNISTData
from sweeplab.data.polynomial import PolynomialData
from sweeplab.data.spiral import SpiralData
from sweeplab.data.synthetic import SyntheticData
from sweeplab.data.xor import XorData


def epoch(loader: TensorLoader) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*loader, strict=True)
    return torch.cat(xs), torch.cat(ys)


# ---------------------------------------------------------------- TensorLoader


def test_unshuffled_loader_keeps_the_stored_order():
    x = torch.arange(10).float().unsqueeze(1)
    loader = TensorLoader(x, torch.arange(10), batch_size=3, shuffle=False)
    assert [len(yb) for _, yb in loader] == [3, 3, 3, 1]
    for _ in range(2):  # every epoch, not only the first
        xs, ys = epoch(loader)
        assert ys.tolist() == list(range(10))
        assert torch.equal(xs.squeeze(1), ys.float())


def test_shuffled_epochs_differ_but_repeat_for_the_same_seed():
    y = torch.arange(100)
    a = TensorLoader(y.float(), y, batch_size=7, shuffle=True, seed=3)
    b = TensorLoader(y.float(), y, batch_size=7, shuffle=True, seed=3)
    other = TensorLoader(y.float(), y, batch_size=7, shuffle=True, seed=4)
    first_a, second_a = epoch(a)[1], epoch(a)[1]
    assert sorted(first_a.tolist()) == list(range(100))  # a permutation: nothing lost or repeated
    assert not torch.equal(first_a, second_a)
    assert torch.equal(first_a, epoch(b)[1]) and torch.equal(second_a, epoch(b)[1])
    assert not torch.equal(first_a, epoch(other)[1])


def test_shuffled_batches_keep_inputs_with_their_targets():
    y = torch.arange(50)
    xs, ys = epoch(TensorLoader(y.float() * 2, y, batch_size=8, shuffle=True))
    assert torch.equal(xs, ys.float() * 2)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("world_size", [2, 3])
def test_ddp_ranks_split_every_epoch_and_cover_every_index(world_size, shuffle):
    n = 10
    y = torch.arange(n)
    shards = [epoch(TensorLoader(y.float(), y, batch_size=2, shuffle=shuffle, seed=1,
                                 rank=r, world_size=world_size))[1] for r in range(world_size)]
    per_rank = -(-n // world_size)
    assert all(len(s) == per_rank for s in shards)  # equal steps on every rank (DDP needs it)
    assert set(torch.cat(shards).tolist()) == set(range(n))
    # only the padding that evens out the ranks is seen twice
    assert len(torch.cat(shards)) - n == per_rank * world_size - n


def test_uint8_inputs_become_floats_in_unit_range_per_batch():
    x = torch.tensor([[0], [128], [255]], dtype=torch.uint8)
    loader = TensorLoader(x, torch.tensor([0, 1, 2]), batch_size=2, scale=1 / 255)
    xs, ys = epoch(loader)
    assert loader.x.dtype == torch.uint8  # the stored copy stays compact
    assert xs.dtype == torch.float32
    assert xs.squeeze(1).tolist() == pytest.approx([0.0, 128 / 255, 1.0])
    assert ys.dtype == torch.long


def test_scale_and_shift_normalise_pixels():
    x = torch.tensor([[0], [255]], dtype=torch.uint8)
    loader = TensorLoader(x, torch.tensor([0, 1]), batch_size=2, scale=1 / (255 * 0.5),
                          shift=-1.0)
    assert epoch(loader)[0].squeeze(1).tolist() == pytest.approx([-1.0, 1.0])


def test_loader_rejects_inputs_and_targets_of_different_lengths():
    with pytest.raises(ValueError, match="3 inputs but 2 targets"):
        TensorLoader(torch.zeros(3, 1), torch.zeros(2), batch_size=1)


def test_drop_last_skips_the_short_batch():
    y = torch.arange(10)
    assert len(TensorLoader(y, y, batch_size=4, drop_last=True)) == 2
    assert len(TensorLoader(y, y, batch_size=4)) == 3


# ---------------------------------------------------------------- DataModule basics


def test_full_batch_gives_one_batch_per_epoch():
    dm = SpiralData(n_per_class=50, full_batch=True)
    batches = list(dm.train_dataloader())
    assert len(batches) == 1
    assert len(batches[0][1]) == len(dm.splits["train"].y)


def test_batch_size_and_shuffle_reach_the_train_loader():
    dm = SpiralData(n_per_class=50, batch_size=16, shuffle=False)
    loader = dm.train_dataloader()
    assert loader.batch_size == 16 and not loader.shuffle
    assert not dm.val_dataloader().shuffle and not dm.test_dataloader().shuffle


def test_split_off_takes_a_fraction_or_a_count_and_keeps_order():
    x = torch.arange(100)
    rest, held = split_off(x, x, 0.25, seed=0)
    assert len(held.x) == 25 and len(rest.x) == 75
    assert torch.equal(rest.x, rest.x.sort().values)
    assert set(rest.x.tolist()).isdisjoint(held.x.tolist())
    assert len(split_off(x, x, 10, seed=0)[1].x) == 10


# ---------------------------------------------------------------- generated sets

GENERATED = {
    "spiral": (lambda **kw: SpiralData(**kw), (2,), 3, "multiclass"),
    "xor": (lambda **kw: XorData(**kw), (2,), 2, "binary"),
    "line1d": (lambda **kw: SyntheticData(**kw), (1,), 2, "binary"),
    "line1d_3class": (lambda **kw: SyntheticData(thresholds=[-0.3, 0.3], **kw), (1,), 3,
                      "multiclass"),
    "quadratic2d": (lambda **kw: SyntheticData(kind="quadratic2d", n=200, **kw), (2,), 2,
                    "binary"),
    "lines": (lambda **kw: LinesData(n=200, **kw), (1, 11, 11), 2, "binary"),
}


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_sets_have_the_declared_shapes_and_labels(name):
    make, shape, classes, task = GENERATED[name]
    dm = make()
    dm.setup()
    assert (tuple(dm.input_shape), dm.num_classes, dm.task) == (shape, classes, task)
    for split in dm.splits.values():
        assert tuple(split.x.shape[1:]) == shape
        assert split.y.dtype == torch.long
        assert 0 <= split.y.min() and split.y.max() < classes
    xb, _ = next(iter(dm.train_dataloader()))
    assert xb.dtype == torch.float32


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_sets_repeat_for_a_seed_and_change_with_it(name):
    make = GENERATED[name][0]
    a, b, c = make(seed=5), make(seed=5), make(seed=6)
    for dm in (a, b, c):
        dm.setup()
    assert torch.equal(a.splits["train"].x, b.splits["train"].x)
    assert torch.equal(a.splits["test"].y, b.splits["test"].y)
    if name.startswith("line1d"):  # a fixed grid: only the split moves with the seed
        assert not torch.equal(a.splits["test"].x, c.splits["test"].x)
    else:
        assert not torch.equal(a.splits["train"].x, c.splits["train"].x)


def test_spiral_split_sizes_follow_val_and_test_size():
    dm = SpiralData()  # 3 x 500 points; 20% test, then 20% of the rest for validation
    dm.setup()
    assert [len(dm.splits[s].y) for s in ("train", "val", "test")] == [960, 240, 300]
    dm = SpiralData(n_per_class=100, val_size=30, test_size=0.1)
    dm.setup()
    assert [len(dm.splits[s].y) for s in ("train", "val", "test")] == [240, 30, 30]


def test_eval_on_train_evaluates_on_the_training_set():
    dm = SyntheticData(step=0.1, eval_on_train=True)
    dm.setup()
    assert len(dm.splits["train"].y) == 20
    assert dm.splits["val"] is dm.splits["train"] and dm.splits["test"] is dm.splits["train"]


def test_line1d_labels_follow_thresholds_and_intervals():
    dm = SyntheticData(num=5, start=-1, stop=1, thresholds=[0.2], eval_on_train=True)
    dm.setup()
    assert dm.splits["train"].y.tolist() == [0, 0, 0, 1, 1]
    dm = SyntheticData(num=5, start=-1, stop=1, intervals=[[-0.6, 0.1]], eval_on_train=True)
    dm.setup()
    assert dm.splits["train"].y.tolist() == [0, 1, 1, 0, 0]


def test_lines_are_uint8_bars_of_the_labelled_direction():
    dm = LinesData(n=40, p=1.0)
    dm.setup()
    x, y = dm.splits["train"].x, dm.splits["train"].y
    assert x.dtype == torch.uint8 and set(x.unique().tolist()) <= {0, 255}
    for img, label in zip(x[:, 0] > 0, y, strict=True):
        rows, cols = img.any(1).sum().item(), img.any(0).sum().item()
        assert (rows, cols) == ((9, 3) if label == 0 else (3, 9))


def test_polynomial_is_regression_with_a_noise_free_test_curve():
    dm = PolynomialData(coefficients=[1.0, 0.0, 2.0], n=30, n_val=10, n_test=50, noise=0.5)
    dm.setup()
    assert (dm.task, dm.num_classes, tuple(dm.input_shape)) == ("regression", 1, (1,))
    assert [len(dm.splits[s].y) for s in ("train", "val", "test")] == [30, 10, 50]
    test = dm.splits["test"]
    assert test.y.shape == (50, 1)
    assert torch.allclose(test.y, 1 + 2 * test.x**2)
    assert not torch.allclose(dm.splits["train"].y, 1 + 2 * dm.splits["train"].x ** 2)


# ---------------------------------------------------------------- image sets


@pytest.mark.parametrize("size", [8, 16, 28])
def test_digits_are_uint8_images_resized_once(size):
    dm = DigitsData(image_size=size)
    dm.setup()
    assert tuple(dm.input_shape) == (1, size, size)
    assert [len(dm.splits[s].y) for s in ("train", "val", "test")] == [1222, 216, 359]
    for split in dm.splits.values():
        assert split.x.dtype == torch.uint8 and tuple(split.x.shape[1:]) == (1, size, size)
    assert dm.splits["train"].x.max() > 200  # the 0..16 range was stretched to 0..255
    xb, yb = next(iter(dm.train_dataloader()))
    assert xb.dtype == torch.float32 and 0.0 <= xb.min() and xb.max() <= 1.0
    assert yb.dtype == torch.long and yb.max() <= 9


def test_digits_test_set_is_fixed_while_the_validation_split_follows_the_seed():
    a, b = DigitsData(seed=0), DigitsData(seed=1)
    a.setup()
    b.setup()
    assert torch.equal(a.splits["test"].x, b.splits["test"].x)
    assert not torch.equal(a.splits["val"].y, b.splits["val"].y)


def test_mean_and_std_normalise_image_batches():
    dm = DigitsData(mean=0.5, std=0.5)
    xb, _ = next(iter(dm.train_dataloader()))
    assert xb.min() >= -1.0 and xb.max() <= 1.0 and xb.min() < -0.9


def test_mnist_reads_torchvision_layout_files(tmp_path):
    write_mnist(tmp_path, n_train=300, n_test=50)
    dm = MNISTData(data_dir=str(tmp_path), download=False, val_size=100)
    dm.setup()
    assert [len(dm.splits[s].y) for s in ("train", "val", "test")] == [200, 100, 50]
    assert dm.splits["train"].x.dtype == torch.uint8
    assert tuple(dm.splits["test"].x.shape) == (50, 1, 28, 28)
    xb, _ = next(iter(dm.train_dataloader()))
    assert xb.dtype == torch.float32 and xb.max() == 1.0


def test_mnist_train_size_keeps_a_seeded_subset(tmp_path):
    write_mnist(tmp_path, n_train=300, n_test=50)
    dm = MNISTData(data_dir=str(tmp_path), download=False, val_size=100, train_size=80,
                   image_size=16)
    dm.setup()
    assert [len(dm.splits[s].y) for s in ("train", "val", "test")] == [80, 100, 50]
    assert tuple(dm.splits["train"].x.shape[1:]) == (1, 16, 16)


def test_mnist_extracts_gz_files_found_in_raw_without_downloading(tmp_path):
    write_mnist(tmp_path, n_train=120, n_test=20, compress=True)
    dm = MNISTData(data_dir=str(tmp_path), download=False, val_size=20)
    dm.setup()
    assert len(dm.splits["test"].y) == 20


def test_fashion_mnist_reads_files_from_a_system_install(tmp_path, monkeypatch):
    system = write_mnist(tmp_path / "system", name="x", n_train=120, n_test=20, compress=True)
    monkeypatch.setattr(FashionMNISTData, "system_dirs", (str(system),))
    dm = FashionMNISTData(data_dir=str(tmp_path / "data"), download=False, val_size=20)
    dm.setup()
    # read in place from the system folder: nothing is copied under data_dir
    assert not (tmp_path / "data").exists()
    assert len(dm.splits["train"].y) == 100
    assert dm.class_names[0] == "T-shirt"


def test_missing_mnist_says_where_it_looked_and_what_to_put_there(tmp_path):
    dm = MNISTData(data_dir=str(tmp_path), download=False)
    with pytest.raises(DataNotFoundError) as info:
        dm.setup()
    message = str(info.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte" in message and "paths.data_dir" in message
    assert "download=false" in message


def test_failed_download_gives_one_line_with_the_reason(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    def offline(self):
        raise RuntimeError("Error downloading x.gz:\nTried https://mirror/, got:\nno network\n")

    monkeypatch.setattr(tvd.MNIST, "download", offline)
    with pytest.raises(DataNotFoundError) as info:
        MNISTData(data_dir=str(tmp_path), download=True).prepare_data()
    message = str(info.value)
    assert "\n" not in message
    assert "download failed" in message and "no network" in message


def test_image_folder_loads_class_folders_as_uint8(tmp_path):
    root = write_image_tree(tmp_path / "pets", per_class=5)
    dm = ImageFolderData(root=str(root), image_size=16, channels=3)
    dm.setup()
    assert dm.class_names == ["cat", "dog"] and (dm.num_classes, dm.task) == (2, "binary")
    assert [len(dm.splits[s].y) for s in ("train", "val")] == [8, 2]
    x = dm.splits["train"].x
    assert x.dtype == torch.uint8 and tuple(x.shape[1:]) == (3, 16, 16)
    # the class colour survives: cats are red, dogs green
    red = x[:, 0].float().mean((1, 2)) > x[:, 1].float().mean((1, 2))
    assert red.tolist() == (dm.splits["train"].y == 0).tolist()


def test_image_folder_grayscale_has_one_channel(tmp_path):
    dm = ImageFolderData(root=str(write_image_tree(tmp_path)), image_size=8, channels=1)
    dm.setup()
    assert tuple(dm.splits["train"].x.shape[1:]) == (1, 8, 8)


def test_image_folder_needs_two_class_folders(tmp_path):
    root = write_image_tree(tmp_path, classes=("only",))
    with pytest.raises(ValueError, match="at least two class folders"):
        ImageFolderData(root=str(root))


def test_mnist_rejects_a_validation_split_that_leaves_nothing_to_train_on(tmp_path):
    from sweeplab.config import ConfigError

    write_mnist(tmp_path, n_train=300, n_test=50)
    with pytest.raises(ConfigError, match="data.val_size=5000 leaves no training images"):
        MNISTData(data_dir=str(tmp_path), download=False, val_size=5000).prepare_data()
    MNISTData(data_dir=str(tmp_path), download=False, val_size=0.1).prepare_data()
