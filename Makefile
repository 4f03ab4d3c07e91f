# The two commands a newcomer needs: `make train` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup train test test-fast test-hydra-next test-slurm lint bench wheel clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# compat: a plain path entry, so Hydra's scan of the hydra_plugins namespace finds
	# sweeplab's sweeper and launchers (setuptools' default editable finder hides them)
	$(PY) -m pip install --quiet -e ".[dev]" --config-settings editable_mode=compat
	touch $(STAMP)

# The main job: activations compared on spiral data, three jobs, about a minute on 2 cores.
train: $(STAMP)
	$(PY) scripts/train.py -m experiment=activations_spiral

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -q

# Everything but the lesson reproductions and other runs marked slow (CI runs them all).
test-fast: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -q -m "not slow"

# The command-line smoke tests under the next Hydra release (a venv layered on .venv).
test-hydra-next: $(STAMP)
	bash ci/hydra-next.sh

# Only the sweeps on a real Slurm cluster (bash ci/slurm-up.sh starts one here, as root).
test-slurm: $(STAMP)
	$(PY) -m pytest -m slurm -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src scripts tests bench

bench: $(STAMP)
	$(PY) scripts/bench.py

# The installable tool: dist/sweeplab-<version>-py3-none-any.whl (README: Install)
wheel: $(STAMP)
	$(PY) -m pip wheel . --no-deps --no-build-isolation -w dist

clean:
	rm -rf outputs/runs outputs/multirun .pytest_cache build dist
