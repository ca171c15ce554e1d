# spikeinit: the two entry points the README gives.
#   make demo   set up .venv and run `spikeinit demo` (the main job)
#   make test   set up .venv and run the test suite
#   make docs   build the documentation site into site/ (mkdocs --strict)
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch 2.14.1 + torchvision 0.29.1 are the pair Norse/SpikingJelly's torchvision needs.
TORCH  ?= torch==2.14.1 torchvision==0.29.1

.PHONY: setup demo test lint bench docs

$(BIN)/spikeinit: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev,data,interop,docs]'
	touch $(BIN)/spikeinit

setup: $(BIN)/spikeinit

demo: setup
	$(BIN)/spikeinit demo --out runs/demo

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: setup
	$(BIN)/python -m benchmarks
