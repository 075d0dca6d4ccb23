# Developer entry points. `make demo` and `make test` work on a fresh machine: they create .venv and install
# everything they need from requirements-dev.txt first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt layers/remediation/requirements.txt pyproject.toml | cksum | cut -d' ' -f1)

# The Lambda runtime template.yaml names; the suite runs on it too when it is installed (pyenv has it here).
PYTHON_LAMBDA ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13 /usr/bin/python3.13 /usr/local/bin/python3.13))
LAMBDA_VENV := .venv-lambda-runtime
LAMBDA_STAMP := $(LAMBDA_VENV)/.installed-$(shell cat requirements-dev.txt layers/remediation/requirements.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck unit unit-lambda-runtime bench clean

$(STAMP):
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

demo: $(STAMP)  ## the product on a local fake AWS (moto's server on 127.0.0.1)
	$(BIN)/python scripts/demo.py

test: lint typecheck unit unit-lambda-runtime  ## everything CI runs

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest

unit-lambda-runtime:
ifeq ($(PYTHON_LAMBDA),)
	@echo "python3.13 (the Lambda runtime) not found: the suite ran on $$($(BIN)/python --version) only"
else
	@$(MAKE) --no-print-directory $(LAMBDA_STAMP)
	$(LAMBDA_VENV)/bin/python -m pytest -q -p no:cacheprovider
endif

$(LAMBDA_STAMP):
	rm -rf $(LAMBDA_VENV)
	$(PYTHON_LAMBDA) -m venv $(LAMBDA_VENV)
	$(LAMBDA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LAMBDA_VENV)/bin/python -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

bench: $(STAMP)  ## cold-start import cost and S3 calls per object
	PYTHONPATH=layers/remediation:. $(BIN)/python -m benchmarks.measure

clean:
	rm -rf $(VENV) $(LAMBDA_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
