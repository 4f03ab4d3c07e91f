"""Run a lab that trains nothing: `sweeplab-lab <name> [--out DIR]`.

It prints the tensors the course shows and writes its figure as PNG and to TensorBoard
(default: outputs/labs/<name>/). `make_anime_standin` writes the cnn_anime stand-in images
(default: data/anime_standin/).
"""

from __future__ import annotations

import argparse

from sweeplab.labs import LABS, default_out, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sweeplab-lab", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(LABS), help="which lab")
    parser.add_argument("--out", default=None,
                        help="output folder (default: outputs/labs/<name>/, "
                             "data/anime_standin/ for make_anime_standin)")
    args = parser.parse_args(argv)
    run(args.name, args.out if args.out else default_out(args.name))
    return 0
