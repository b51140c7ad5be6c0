# The whole set-up on a fresh Debian/Ubuntu machine:
#   make demo   creates .venv, installs dlexp and Fashion-MNIST, runs the
#               default ablation (experiments/elu_vs_relu.py), prints its table
#   make test   creates .venv, installs dlexp[dev] and the data, runs the tests
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FMNIST := /usr/share/datasets/fashion-mnist

.PHONY: demo test data install bench clean

demo: install data
	$(PY) experiments/elu_vs_relu.py

test: install data
	$(PY) -m pytest -n 2 tests

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
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

bench: install data
	$(PY) benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) runs .pytest_cache
