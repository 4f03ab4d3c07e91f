"""One test example through a saved model:
`sweeplab-predict ckpt_path=<job dir>/checkpoints/last.ckpt [index=N]`.

Options: index=N (default: a random test example; seed=S makes the draw repeatable),
out=<png> (default <job dir>/predict_<index>.png), threads=1. Prints the true label, the
predicted class and every class's probability, and saves the input (the image, or the point
among the test data for 2-D data) beside a bar chart of the probabilities.
"""

import random
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from sweeplab.config import ConfigError
from sweeplab.data.errors import DataError
from sweeplab.saved import fail, job_dir, load_job, parse_args

DEFAULTS = {"ckpt_path": None, "index": None, "seed": None, "out": None, "threads": 1}


def predict(module, dm, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(the input as the model sees it, class probabilities, true label) of test `index`."""
    test = dm.splits["test"]
    x = dm.scaled(test.x[index : index + 1])
    with torch.no_grad():
        probs = module.probabilities(module(x))[0]
    return x[0], probs, int(test.y[index])


def draw_input(ax, x: torch.Tensor, dm, index: int, right: bool) -> None:
    if x.dim() == 3:  # (C, H, W): grey or colour image
        image = x.permute(1, 2, 0).squeeze(-1)
        ax.imshow(image.numpy(), cmap="gray" if image.dim() == 2 else None)
        ax.axis("off")
    elif x.numel() == 2:  # a point: shown among the test set, coloured by class
        pts = dm.splits["test"]
        ax.scatter(pts.x[:, 0], pts.x[:, 1], c=pts.y, s=8, cmap="tab10", alpha=0.4)
        # the point asked about, coloured by the verdict as the title says it
        ax.scatter([x[0]], [x[1]], marker="*", s=300, c="tab:green" if right else "tab:red",
                   edgecolors="k")
        ax.set_aspect("equal")
    else:
        ax.bar(range(x.numel()), x.flatten().numpy())
        ax.set(xlabel="feature", title="input")


def figure(x, probs, label: int, dm, index: int, path: Path) -> None:
    names = dm.class_names
    pred = int(probs.argmax())
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.5))
    draw_input(left, x, dm, index, right=pred == label)
    verdict = "right" if pred == label else "WRONG"
    left.set_title(f"test #{index}: true {names[label]}, predicted {names[pred]} ({verdict})",
                   fontsize=9)
    colors = ["tab:green" if i == label else "tab:red" if i == pred else "tab:gray"
              for i in range(len(names))]
    right.bar(range(len(names)), probs.numpy(), color=colors)
    right.set_xticks(range(len(names)), names, rotation=90 if len(names) > 12 else 0)
    right.set(ylim=(0, 1), ylabel="probability",
              title="class probabilities (green: true, red: wrong prediction)")
    right.title.set_fontsize(9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    from sweeplab.cli import setup_process

    args = parse_args(sys.argv[1:] if argv is None else argv, DEFAULTS, __doc__)
    setup_process()  # a PNG, not a window
    torch.set_num_threads(int(args.threads))
    try:
        _, dm, module = load_job(args.ckpt_path)
    except (ConfigError, DataError) as exc:
        fail(str(exc))
    if dm.task == "regression":
        fail(f"{args.ckpt_path}: a regression model has no classes to predict; use sweeplab-eval")
    n = len(dm.splits["test"].y)
    index = random.Random(args.seed).randrange(n) if args.index is None else int(args.index)
    if not 0 <= index < n:
        fail(f"index={index}: the test set has {n} examples (0..{n - 1})")
    x, probs, label = predict(module, dm, index)
    names = dm.class_names
    print(f"test example {index}: true label {names[label]}, "
          f"predicted {names[int(probs.argmax())]}")
    for name, p in sorted(zip(names, probs.tolist(), strict=True), key=lambda t: -t[1]):
        print(f"  {name:>12}  {p:.4f}")
    out = Path(args.out) if args.out else job_dir(Path(args.ckpt_path)) / f"predict_{index}.png"
    figure(x, probs, label, dm, index, out)
    print(f"[sweeplab] figure: {out}")
    return 0
