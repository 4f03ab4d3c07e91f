"""TensorBoard figures of what a job learned, drawn every few epochs and when training ends.

`Visualize` picks the figure from the data's shape: 2-D inputs get the decision regions with
the data points, 1-D inputs the fitted curve over the data, images a grid of predictions with
the mistakes marked plus a confusion matrix. With `histograms: true` it also logs weight and
gradient histograms per layer (the init labs). It draws only when a TensorBoard logger is
configured, and only on the epochs asked for, so training pays nothing in between.
"""

from __future__ import annotations

import math
import warnings

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor

from sweeplab.loggers import board_tag

#: inputs drawn on 2-D / 1-D plots at most (a random subset beyond it)
MAX_POINTS = 1000


class Visualize(L.Callback):
    """Figures in TensorBoard's Images tab under `~val/` (every few epochs) and `~test/` (at the
    end), histograms under `weights/` and `grads/`."""

    def __init__(self, every_n_epochs: int = 5, at_end: bool = True, grid_size: int = 100,
                 n_images: int = 16, histograms: bool = False) -> None:
        self.every_n_epochs, self.at_end = every_n_epochs, at_end
        self.grid_size, self.n_images, self.histograms = grid_size, n_images, histograms
        self._grads_due = False

    # ------------------------------------------------------------ when

    def due(self, trainer: L.Trainer) -> bool:
        """Whether this epoch's validation draws figures."""
        n = self.every_n_epochs
        return n > 0 and (trainer.current_epoch + 1) % n == 0

    def on_validation_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.sanity_checking and self.due(trainer):
            self.draw(trainer, module, "val", last_step(trainer))

    def on_fit_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self.at_end:
            self.draw(trainer, module, "test", last_step(trainer))

    def histograms_due(self, trainer: L.Trainer) -> bool:
        """Whether this epoch logs histograms: the first, and those that draw figures."""
        return self.histograms and (trainer.current_epoch == 0 or self.due(trainer))

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._grads_due = self.histograms_due(trainer)

    def on_before_optimizer_step(self, trainer: L.Trainer, module: L.LightningModule,
                                 optimizer) -> None:
        if self._grads_due:  # the epoch's first step: gradients of the weights before it
            self._grads_due = False
            writer = tensorboard(trainer)
            if writer is not None:
                histograms_into(writer, module, "grads", trainer.global_step)

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        writer = tensorboard(trainer)
        if writer is not None and self.histograms_due(trainer):
            histograms_into(writer, module, "weights", trainer.global_step)

    # ------------------------------------------------------------ what

    def draw(self, trainer: L.Trainer, module: L.LightningModule, split: str, step: int) -> None:
        """The figures at optimiser step `step`: the step axis of the scalars too."""
        writer = tensorboard(trainer)
        if writer is not None:
            self.draw_into(writer, module, trainer.datamodule, split, step)

    def draw_into(self, writer, module: L.LightningModule, dm, split: str, step: int) -> None:
        """`module`'s figures on `dm`'s `split` into TensorBoard `writer` (a SummaryWriter):
        a stack draws each member's into its own job's."""
        if dm is None or getattr(dm, "splits", None) is None:
            return
        shape = tuple(dm.input_shape)
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                figures = self.figures(module, dm, split, shape)
        except Exception as exc:  # a figure is a bonus: never fail the job over it
            warnings.warn(f"no {split} figures this time: {exc!r}", stacklevel=1)
            return
        finally:
            module.train(was_training)
        for tag, fig in figures:  # after the learning curves in the Time Series view
            name = board_tag(f"{split}/{tag}", figure=True)
            if isinstance(fig, Tensor):  # drawn directly as an image (3, H, W)
                writer.add_image(name, fig, step)
            else:
                writer.add_figure(name, fig, step)  # closes it

    def figures(self, module, dm, split: str, shape: tuple) -> list:
        data = dm.splits[split]
        if len(shape) == 3 and dm.classifies:
            preds = predict(module, dm, data.x).argmax(-1)
            return [("predictions", image_grid(data.x[: self.n_images], data.y, preds, dm)),
                    ("confusion_matrix", confusion(preds, data.y, dm))]
        if shape == (2,) and dm.classifies:
            return [("decision_regions", regions(module, dm, data, self.grid_size))]
        if shape == (1,):
            return [("fit", curve(module, dm, data))]
        return []


def histograms_into(writer, module: L.LightningModule, kind: str, step: int) -> None:
    """Histograms of `module`'s parameters (`kind` "weights") or of their gradients ("grads")
    into TensorBoard `writer`, under `<kind>/<parameter name>`."""
    for name, p in module.named_parameters():
        value = p if kind == "weights" else p.grad
        if value is not None:
            writer.add_histogram(f"{kind}/{name}", value.detach().cpu(), step)


def last_step(trainer: L.Trainer) -> int:
    """The step Lightning logs an epoch's metrics at (its last optimiser step), so figures and
    curves share one axis."""
    return max(trainer.global_step - 1, 0)


def tensorboard(trainer: L.Trainer):
    """The SummaryWriter of the job's TensorBoard logger on rank 0, else None."""
    if not trainer.is_global_zero:
        return None
    for lg in trainer.loggers:
        if isinstance(lg, TensorBoardLogger):
            return lg.experiment
    return None


def predict(module: L.LightningModule, dm, x: Tensor, batch: int = 4096) -> Tensor:
    """Class probabilities (or regression outputs) for raw inputs, scaled as the loader does."""
    out = []
    for i in range(0, len(x), batch):
        xb = dm.scaled(x[i: i + batch].to(module.device))
        y = module(xb)
        out.append((module.probabilities(y) if hasattr(module, "probabilities") else y).cpu())
    return torch.cat(out)


def subset(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    if len(x) <= MAX_POINTS:
        return x, y
    keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:MAX_POINTS]
    return x[keep], y[keep]


#: the decision-regions image: about this many pixels a side, regions tinted this much
REGION_PIXELS = 300
REGION_ALPHA = 0.3


def regions(module, dm, data, grid_size: int) -> Tensor:
    """The predicted class over a grid covering the data, with the data points on top: an
    image (3, H, W) in [0, 1], region colours tinted, each point a square of its class colour
    with a black edge (tab10 colours, as the other figures).

    Drawn for every job (and stack member) every few epochs, so drawn directly into a tensor:
    through matplotlib (axes, layout, rendering) it cost ten times as much for the same picture."""
    from matplotlib import colormaps

    x = data.x.float()
    lo, hi = x.min(0).values, x.max(0).values
    pad = (hi - lo) * 0.1
    gx = torch.linspace(float(lo[0] - pad[0]), float(hi[0] + pad[0]), grid_size)
    gy = torch.linspace(float(lo[1] - pad[1]), float(hi[1] + pad[1]), grid_size)
    xx, yy = torch.meshgrid(gx, gy, indexing="xy")
    grid = torch.stack([xx.flatten(), yy.flatten()], 1)
    # back to raw units: predict() applies the loader's scale and shift
    classes = predict(module, dm, (grid - dm.shift) / dm.scale).argmax(-1).reshape(xx.shape)
    palette = torch.tensor(colormaps["tab10"].colors, dtype=torch.float32)
    cell = max(1, REGION_PIXELS // grid_size)
    image = 1 - REGION_ALPHA * (1 - palette[classes % len(palette)])  # (y, x, 3), y upwards
    image = image.flip(0).repeat_interleave(cell, 0).repeat_interleave(cell, 1).contiguous()
    size = image.shape[0]
    px, py = subset(x, data.y)
    cols = ((px[:, 0] - gx[0]) / (gx[-1] - gx[0]) * (size - 1)).round().long()
    rows = ((gy[-1] - px[:, 1]) / (gy[-1] - gy[0]) * (size - 1)).round().long()
    for radius, colour in ((2, torch.zeros(len(py), 3)), (1, palette[py.long() % len(palette)])):
        offsets = torch.arange(-radius, radius + 1)
        r = (rows[:, None, None] + offsets[None, :, None]).clamp(0, size - 1)
        c = (cols[:, None, None] + offsets[None, None, :]).clamp(0, size - 1)
        image[r, c] = colour[:, None, None, :].expand(-1, len(offsets), len(offsets), -1)
    return image.permute(2, 0, 1)


def curve(module, dm, data):
    """The model's output over the input range (class-1 probability, or the regression fit)."""
    import matplotlib.pyplot as plt

    x = data.x.float()
    xs = torch.linspace(float(x.min()), float(x.max()), 200)[:, None]
    out = predict(module, dm, (xs - dm.shift) / dm.scale)
    fig, ax = plt.subplots(figsize=(6, 4))
    px, py = subset(x, data.y)
    ax.scatter(px[:, 0], py.float().reshape(len(py), -1)[:, 0], s=10, alpha=0.6, label="data")
    if not dm.classifies:
        ax.plot(xs[:, 0], out[:, 0], color="tab:red", label="fit")
    else:
        for c in range(1, out.shape[1]):
            ax.plot(xs[:, 0], out[:, c], label=f"P(class {dm.class_names[c]})")
    ax.set(xlabel="x", ylabel="y", title="fitted curve")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


#: figure sizes and fonts for TensorBoard's default image card (about 500 pixels wide): a figure
#: 5 inches wide at 100 dpi is shown close to its own size, so 10 pt text stays legible
TILE_INCHES = 1.25
FONT = 10


def image_grid(x: Tensor, y: Tensor, preds: Tensor, dm):
    """The first images with their predicted class above each; mistakes in red with the true
    class on a second line.

    One axes showing a tiled image (a subplot per image would cost ten times as much to draw),
    with a white band above each image for its caption."""
    import matplotlib.pyplot as plt

    n, cols = len(x), min(4, len(x))
    rows, (h, w), pad = max(1, math.ceil(n / cols)), x.shape[-2:], max(2, x.shape[-1] // 14)
    band = round(h * 0.4)  # two caption lines
    cell_h, cell_w = band + h + pad, w + pad
    imgs = x.float()
    lo, hi = imgs.amin(dim=(1, 2, 3), keepdim=True), imgs.amax(dim=(1, 2, 3), keepdim=True)
    imgs = (imgs - lo) / (hi - lo).clamp_min(1e-8)
    if imgs.shape[1] == 1:
        imgs = imgs.expand(-1, 3, -1, -1)
    canvas = torch.ones(3, rows * cell_h, cols * cell_w)
    for i in range(n):
        top, left = (i // cols) * cell_h + band, (i % cols) * cell_w + pad // 2
        canvas[:, top: top + h, left: left + w] = imgs[i, :3]
    title_in = 0.3
    width = TILE_INCHES * cols
    height = width * canvas.shape[1] / canvas.shape[2]
    fig = plt.figure(figsize=(width, height + title_in))
    ax = fig.add_axes((0, 0, 1, height / (height + title_in)))
    ax.imshow(canvas.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.axis("off")
    names = dm.class_names
    for i in range(n):
        guess, truth = names[int(preds[i])], names[int(y[i])]
        right = guess == truth
        ax.text((i % cols) * cell_w + cell_w / 2, (i // cols) * cell_h + band - 1,
                guess if right else f"{guess}\n(true {truth})", ha="center", va="bottom",
                fontsize=FONT, linespacing=1.0, color="black" if right else "red")
    fig.suptitle("predictions (red: wrong)", fontsize=FONT + 1, y=1 - 0.05 * title_in)
    return fig


def confusion(preds: Tensor, y: Tensor, dm):
    """Rows: true class, columns: predicted class, counts in the cells."""
    import matplotlib.pyplot as plt
    from torchmetrics.functional.classification import multiclass_confusion_matrix

    k = dm.num_classes
    matrix = multiclass_confusion_matrix(preds, y.long(), num_classes=k)
    font = FONT if k <= 10 else FONT - 2
    long_names = max(len(str(c)) for c in dm.class_names) > 3
    size = 1.2 + 0.34 * k + (0.6 if long_names else 0)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix.numpy(), cmap="Blues")
    if k <= 20:
        dark = float(matrix.max()) / 2
        for (i, j), v in zip(torch.cartesian_prod(torch.arange(k), torch.arange(k)).tolist(),
                             matrix.flatten().tolist(), strict=True):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=font - (1 if v >= 1000 else 0),
                    color="white" if v > dark else "black")
    ticks = list(range(k))
    ax.set_xticks(ticks, dm.class_names, fontsize=font,
                  rotation=45 if long_names else 0, ha="right" if long_names else "center")
    ax.set_yticks(ticks, dm.class_names, fontsize=font)
    ax.set_xlabel("predicted", fontsize=font)
    ax.set_ylabel("true", fontsize=font)
    ax.set_title("confusion matrix", fontsize=FONT + 1)
    fig.tight_layout()
    return fig
