# The whole set-up on a fresh Debian/Ubuntu machine:
#   make demo   creates .venv, installs dlexp and Fashion-MNIST, runs the
#               default ablation (experiments/elu_vs_relu.py), prints its table
#   make test   creates .venv, installs dlexp[dev] and the data, runs the tests
#   make test-oldest  the lowest versions pyproject.toml allows, in their own
#               venv (.venv-oldest), and a fast subset of the tests
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FMNIST := /usr/share/datasets/fashion-mnist

OLDEST_VENV ?= .venv-oldest
OLDEST_TESTS := tests/test_config.py tests/test_activations.py \
  tests/test_dropout.py tests/test_diagnostics.py tests/test_report.py \
  tests/test_engine.py tests/test_data.py tests/test_models_conv.py \
  tests/test_stats.py tests/test_claims.py \
  tests/test_experiments.py::test_elu_vs_relu

.PHONY: demo test test-oldest data install bench clean findings rejudge

demo: install data
	$(PY) experiments/elu_vs_relu.py

# worksteal: an idle worker takes queued tests from the other, so the long
# script tests at the end do not leave one core idle (fresh clone, empty
# compile cache, idle machine: 419 s with the default 'load', 378 s; 342-350 s
# since scripts are forked from tests/cli_zygote.py; 327-340 s since each
# test program compiles as one LLVM module, tests/conftest.py; 301-314 s
# since a group leaves out the optimizer transformations all its members
# have at 0 and after_epoch has no cond, 343 s with the install; 2026-12-07,
# with the statistics and rule tests: 252.5 s, 4m40s with the install). A
# third worker on the 2 cores: 323 s, each test 1.5x slower. 2026-12-07,
# 1,178 tests, fresh clone, empty compilation cache: 327-357 s (5m52s-6m26s
# with the install); -n 3: 348 s, and a timing check flipped under the load.
# 2026-12-07 evening, 1,214 tests (new engine modes, hooks and rules):
# 341-359 s, 6m11s-6m27s with the install.
test: install data
	$(PY) -m pytest -n 2 --dist worksteal tests

# Keeps pyproject's lower bounds honest: exactly tests/constraints-oldest.txt.
test-oldest: data
	test -x $(OLDEST_VENV)/bin/python || $(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST_VENV)/bin/python -m pip install --quiet \
	  -c tests/constraints-oldest.txt -e . pytest
	$(OLDEST_VENV)/bin/python -m pip list 2>/dev/null | \
	  grep -iE '^(jax|jaxlib|flax|optax|orbax-checkpoint|numpy|scipy|tensorflow-datasets) '
	$(OLDEST_VENV)/bin/python -m pytest -W ignore::DeprecationWarning $(OLDEST_TESTS)

install: $(VENV)/.installed

# -qq: errors only. A mirror's pip configuration can add a warning per
# package (77 lines of 'Location ... is ignored' on this project's CPU
# machine), burying the demo's own output.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --upgrade pip
	$(PY) -m pip install -qq -e '.[dev]'
	touch $@

# Fashion-MNIST from Debian's archive (as root); otherwise see README, "Data".
data:
	@if [ -f $(FMNIST)/train-images-idx3-ubyte.gz ] || [ -f $(FMNIST)/train-images-idx3-ubyte ]; then \
	  echo "Fashion-MNIST: $(FMNIST)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get install -y -qq dataset-fashion-mnist || \
	   (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)) >/dev/null; \
	  echo "Fashion-MNIST: installed into $(FMNIST)"; \
	else \
	  echo "Fashion-MNIST not in $(FMNIST): run 'sudo apt-get install dataset-fashion-mnist'," \
	       "or set DLEXP_DATA_DIR to a folder with the IDX files (see README)"; \
	fi

# Every experiment script at its default size (one workdir each under
# runs/findings), then FINDINGS.md and docs/findings/records/ from their
# findings records; prints each script's and the total time.
# `make rejudge`: the verdicts again from the committed records, no training.
EXPERIMENTS := $(sort $(basename $(notdir $(wildcard experiments/*.py))))
findings: install data
	@start=$$(date +%s); for s in $(EXPERIMENTS); do \
	  echo "== experiments/$$s.py"; t=$$(date +%s); \
	  $(PY) experiments/$$s.py --workdir=runs/findings/$$s || exit 1; \
	  echo "== $$s: $$(( $$(date +%s) - t )) s"; \
	done; \
	$(PY) -m dlexp.findings runs/findings --write FINDINGS.md && \
	echo "make findings: $$(( ($$(date +%s) - start) / 60 )) min in all"

rejudge: install
	$(PY) -m dlexp.findings --rejudge --write FINDINGS.md

bench: install data
	$(PY) benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) $(OLDEST_VENV) runs .pytest_cache
