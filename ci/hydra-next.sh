#!/usr/bin/env bash
# The smoke tests (tests/test_cli_smoke.py) under the next Hydra release, in a venv layered on
# .venv: its own hydra-core and omegaconf, every other package (torch, Lightning) read from
# .venv, so nothing large is downloaded twice. Usage: bash ci/hydra-next.sh [hydra-core spec]
set -euo pipefail
cd "$(dirname "$0")/.."
spec=${1:-hydra-core==1.4.0rc3}
next=.venv-hydra-next
base=$(.venv/bin/python -c 'import site; print(site.getsitepackages()[0])')
[ -x "$next/bin/python" ] || python3 -m venv "$next"
own=$("$next/bin/python" -c 'import site; print(site.getsitepackages()[0])')
# after its own site-packages on sys.path: .venv's packages, and this checkout's src/ (.venv's
# own .pth files are not read from there)
printf '%s\n%s\n' "$base" "$PWD/src" > "$own/sweeplab-base.pth"
"$next/bin/python" -m pip install --quiet --pre "$spec" \
    || { echo "hydra-next: error: could not install $spec"; exit 1; }
"$next/bin/python" -c 'import hydra, omegaconf; print(f"hydra-next: hydra-core {hydra.__version__}, omegaconf {omegaconf.__version__}")'
exec "$next/bin/python" -m pytest -m smoke -q -p no:cacheprovider tests/test_cli_smoke.py
