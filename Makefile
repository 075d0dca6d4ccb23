# Developer entry points. `make demo` and `make test` work on a fresh machine: they create .venv and install
# everything they need from requirements-dev.txt first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt layers/remediation/requirements.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck unit bench clean

$(STAMP):
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

demo: $(STAMP)  ## the product on a local fake AWS (moto's server on 127.0.0.1)
	$(BIN)/python scripts/demo.py

test: lint typecheck unit  ## everything CI runs

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)  ## cold-start import cost and S3 calls per object
	PYTHONPATH=layers/remediation:. $(BIN)/python -m benchmarks.measure

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
