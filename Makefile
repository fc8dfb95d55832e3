# Two commands for a newcomer: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

# Real data for integration tests and the demo: ../shared/data when it exists, unless already set.
ifeq ($(origin TUNEDEPTH_DATA_DIR), undefined)
  ifneq ($(wildcard ../shared/data/medmnist),)
    export TUNEDEPTH_DATA_DIR := $(abspath ../shared/data)
  endif
endif

.PHONY: install demo test unit lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,volumes,ray,onnx,mlflow,tensorboard]'
	touch $@

install: $(VENV)/.installed

## Run the demo study (PneumoniaMNIST, EfficientNet-Lite0, scratch vs every depth x 3 fractions).
demo: install
	$(BIN)/tunedepth demo

## The whole test suite (unit, doctests, real-data integration tests), then lint and type checks.
test: install
	$(BIN)/python -m pytest
	$(MAKE) lint

## Unit tests only (no slow integration tests).
unit: install
	$(BIN)/python -m pytest -m "not slow"

lint: install
	$(BIN)/ruff check tunedepth tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
