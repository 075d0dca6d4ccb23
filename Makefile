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

TOOLS_VENV := .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed-$(shell cat requirements-tools.txt | cksum | cut -d' ' -f1)
SAM := SAM_CLI_TELEMETRY=0 $(TOOLS_VENV)/bin/sam

.PHONY: demo test lint typecheck unit unit-lambda-runtime template-checks bench load clean

$(STAMP):
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

demo: $(STAMP)  ## the product on a local fake AWS (moto's server on 127.0.0.1)
	$(BIN)/python scripts/demo.py

test: lint typecheck template-checks unit unit-lambda-runtime  ## everything CI runs

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

template-checks: $(TOOLS_STAMP) $(STAMP)  ## cfn-lint, sam validate --lint, sam build (no Docker), layer, checkov
	$(TOOLS_VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --region us-east-1
	mkdir -p .aws-sam && AWS_DEFAULT_REGION=us-east-1 $(TOOLS_VENV)/bin/python scripts/transformed_template.py > .aws-sam/transformed.json
	$(TOOLS_VENV)/bin/cfn-lint .aws-sam/transformed.json
	$(SAM) build --region us-east-1 > .aws-sam-build.log 2>&1 || (cat .aws-sam-build.log; exit 1)
	$(BIN)/python scripts/check_layer.py
	$(TOOLS_VENV)/bin/checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download

$(TOOLS_STAMP): requirements-tools.txt
	rm -rf $(TOOLS_VENV)
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS_VENV)/bin/python -m pip install --quiet -r requirements-tools.txt
	touch $@

bench: $(STAMP)  ## cold-start import cost and S3 calls per object
	PYTHONPATH=layers/remediation:. $(BIN)/python -m benchmarks.measure

load: $(STAMP)  ## 10,000 object events (1,000 twice) through the SQS batch path on moto: lost, duplicates, objects/s, RSS
	PYTHONPATH=layers/remediation:. $(BIN)/python -m benchmarks.load

clean:
	rm -rf $(VENV) $(LAMBDA_VENV) $(TOOLS_VENV) .aws-sam .aws-sam-build.log .pytest_cache .mypy_cache .ruff_cache .hypothesis
