# cnncc: `make demo` compiles and runs a bundled model; `make test` runs the whole test suite.
# Both create their own virtual environment in .venv (nothing but Python 3.11 needed).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   := build/demo
PYTEST_WORKERS ?= 2

.PHONY: setup system-deps demo test test-gpu fuzz clean

setup: $(STAMP) system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

# Graphviz renders `cnncc show` pictures; a C compiler builds shared libraries. Installed from
# the OS packages when missing and we are allowed to (root); otherwise only a warning.
system-deps:
	@missing=""; \
	command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	command -v cc  >/dev/null 2>&1 || missing="$$missing gcc"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing OS packages:$$missing"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } \
	      || echo "warning: could not install$$missing (tests that need them skip)"; \
	  else \
	    echo "warning: missing OS packages:$$missing (install them for pictures / shared libraries)"; \
	  fi; \
	fi

demo: setup
	mkdir -p $(DEMO)
	$(BIN)/cnncc zoo squeezenet -o $(DEMO)/squeezenet.onnx
	$(BIN)/cnncc inspect $(DEMO)/squeezenet.onnx -O2
	$(BIN)/cnncc compile $(DEMO)/squeezenet.onnx --target llvm -o $(DEMO)/squeezenet
	$(BIN)/cnncc run $(DEMO)/squeezenet --output $(DEMO)/outputs.npz
	$(BIN)/cnncc run $(DEMO)/squeezenet.onnx --target llvm --check

test: setup
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) tests

# The long fuzz run: N mutated models and command lines (seeded; the README states the last
# run's count), in two worker shards. Failing cases are saved under build/fuzz for replay.
N    ?= 10000
SEED ?= 1
fuzz: setup
	FUZZ_EXAMPLES=$(N) FUZZ_SEED=$(SEED) $(BIN)/python -m pytest -q -s -n 2 -p no:cacheprovider tests/fuzz

# The cuda builds run against the reference on a real GPU (skipped where there is none).
test-gpu: setup
	$(BIN)/python -m pytest -q -m gpu tests/backends/tvm

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis
