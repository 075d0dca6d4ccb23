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

# The suite runs in parallel (pytest-xdist), one worker per CPU. `--dist loadscope` sends a module's test functions
# (a class's methods) to one worker: tests/reliability/test_fuzz.py builds its fake account once per module and counts
# its inputs across the module. (`--dist loadgroup` would group by marker, but pytest-xdist 3.8 cannot rename pytest
# 9.2's node ids, so its groups are silently ignored.) `make test XDIST=` runs everything serially.
PYTEST := -m pytest -q -p no:cacheprovider
XDIST ?= -n auto --dist loadscope

TOOLS_VENV := .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed-$(shell cat requirements-tools.txt | cksum | cut -d' ' -f1)
SAM := SAM_CLI_TELEMETRY=0 $(TOOLS_VENV)/bin/sam

.PHONY: venvs demo test lint fmt typecheck unit integration suite suite-lambda-runtime test-time-travel template-checks org-template bench load clean

$(STAMP):
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

demo: REGION ?= us-east-1
# Every virtual environment `make test` uses, made at once (`make -j3 venvs`, as .ci/run does): their installs wait on
# the package index and the disk more than on the CPU.
venvs: $(STAMP) $(TOOLS_STAMP) $(if $(PYTHON_LAMBDA),$(LAMBDA_STAMP))

demo: $(STAMP)  ## the product on a local fake AWS (moto's server on 127.0.0.1), then across an Organization; REGION=us-gov-west-1 or cn-north-1 for another partition
	$(BIN)/python scripts/demo.py --region $(REGION)
	$(BIN)/python scripts/demo_org.py --region $(REGION)

test: lint typecheck template-checks suite suite-lambda-runtime  ## everything CI runs

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)  ## fix what `make lint` finds where ruff can: lint fixes, then formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)  ## tests/unit only: no fake AWS, no network, a few seconds
	$(BIN)/python $(PYTEST) tests/unit

integration: $(STAMP)  ## the rest: moto-backed integration and reliability tests, template checks in Python
	$(BIN)/python $(PYTEST) $(XDIST) tests --ignore=tests/unit

suite: $(STAMP)  ## the whole suite (unit + integration)
	$(BIN)/python $(PYTEST) $(XDIST)

# The suite with the clock a year ahead in a UTC+13:45 zone (tests/clock.py): a test that reads today's date or the
# machine's zone fails here. CI runs the Lambda runtime's suite this way, so each CI run proves both at no extra cost.
TIME_TRAVEL := DSSE_TEST_TIME_TRAVEL=365 TZ=Pacific/Chatham
# The tests marked all_partitions (and the demos in GovCloud and China) run in the three partitions in `suite`; the
# second run covers the `aws` partition only: a partition's ARNs and endpoints depend on neither the Python version nor
# the date (tests/helpers.py tested_partitions). `make suite-lambda-runtime PARTITIONS=` runs them all again.
PARTITIONS ?= aws

suite-lambda-runtime:  ## the whole suite again on the Lambda runtime's Python (when installed), a year ahead
ifeq ($(PYTHON_LAMBDA),)
	@echo "python3.13 (the Lambda runtime) not found: the suite ran on $$($(BIN)/python --version) only"
	$(TIME_TRAVEL) DSSE_TEST_PARTITIONS=$(PARTITIONS) $(BIN)/python $(PYTEST) $(XDIST)
else
	@$(MAKE) --no-print-directory $(LAMBDA_STAMP)
	$(TIME_TRAVEL) DSSE_TEST_PARTITIONS=$(PARTITIONS) $(LAMBDA_VENV)/bin/python $(PYTEST) $(XDIST)
endif

test-time-travel: $(STAMP)  ## the whole suite a year ahead in another time zone (DAYS=, ZONE= to choose)
	DSSE_TEST_TIME_TRAVEL=$(or $(DAYS),365) TZ=$(or $(ZONE),Pacific/Chatham) $(BIN)/python $(PYTEST) $(XDIST)

# After .venv (order only): never two editable installs of this tree at once (setuptools writes its egg-info here).
$(LAMBDA_STAMP): | $(STAMP)
	rm -rf $(LAMBDA_VENV)
	$(PYTHON_LAMBDA) -m venv $(LAMBDA_VENV)
	$(LAMBDA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LAMBDA_VENV)/bin/python -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

# The partitions the templates must deploy in: a Region of each (aws, aws-us-gov, aws-cn). cfn-lint checks every
# resource type and property against each Region's CloudFormation schemas; scripts/iam_lint.py resolves every IAM
# policy for each Region (its partition's ARNs) and runs parliament on it.
PARTITION_REGIONS := us-east-1 us-gov-west-1 cn-north-1

template-checks: $(TOOLS_STAMP) $(STAMP)  ## cfn-lint (3 partitions), sam validate --lint, sam build (no Docker), layer, checkov, IAM lint (3 partitions)
	$(TOOLS_VENV)/bin/cfn-lint --regions $(PARTITION_REGIONS) -- template.yaml
	$(SAM) validate --lint --region us-east-1
	mkdir -p .aws-sam && for region in $(PARTITION_REGIONS); do \
	  AWS_DEFAULT_REGION=$$region $(TOOLS_VENV)/bin/python scripts/transformed_template.py > .aws-sam/transformed-$$region.json || exit 1; \
	  $(TOOLS_VENV)/bin/cfn-lint --regions $$region -- .aws-sam/transformed-$$region.json || exit 1; done
	$(SAM) build --region us-east-1 > .aws-sam-build.log 2>&1 || (cat .aws-sam-build.log; exit 1)
	$(BIN)/python scripts/check_layer.py
	$(TOOLS_VENV)/bin/checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download
	$(TOOLS_VENV)/bin/python scripts/org_template.py --layer-build .aws-sam/build/RemediationLayer --quiet
	$(TOOLS_VENV)/bin/cfn-lint --regions $(PARTITION_REGIONS) -- .aws-sam/org/member.json
	$(TOOLS_VENV)/bin/checkov -f .aws-sam/org/member.json --framework cloudformation --quiet --compact --skip-download
	$(TOOLS_VENV)/bin/cfn-lint --regions $(PARTITION_REGIONS) -- org/security.yaml
	$(TOOLS_VENV)/bin/checkov -f org/security.yaml --framework cloudformation --quiet --compact --skip-download
	$(TOOLS_VENV)/bin/cfn-lint --regions $(PARTITION_REGIONS) -- org/artifacts.yaml
	$(TOOLS_VENV)/bin/checkov -f org/artifacts.yaml --framework cloudformation --quiet --compact --skip-download
	for region in $(PARTITION_REGIONS); do $(TOOLS_VENV)/bin/python scripts/iam_lint.py --region $$region \
	  .aws-sam/transformed-$$region.json .aws-sam/org/member.json org/security.yaml org/artifacts.yaml || exit 1; done

org-template: $(TOOLS_STAMP)  ## the member stack for an Organization (StackSets): .aws-sam/org/member.json, no transform, and its code
	$(TOOLS_VENV)/bin/python scripts/org_template.py

$(TOOLS_STAMP): requirements-tools.txt
	rm -rf $(TOOLS_VENV)
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS_VENV)/bin/python -m pip install --quiet -r requirements-tools.txt
	touch $@

bench: $(STAMP)  ## cold-start import cost, the AWS calls per object and per bucket / key path, Batch Operations tasks/s
	PYTHONPATH=layers/remediation:. $(BIN)/python -m benchmarks.imports
	PYTHONPATH=layers/remediation:. $(BIN)/python -m benchmarks.calls
	PYTHONPATH=layers/remediation:. $(BIN)/python -m benchmarks.batch_tasks

load: $(STAMP)  ## 10,000 object events (1,000 twice) through the SQS batch path on moto: lost, duplicates, objects/s, RSS
	PYTHONPATH=layers/remediation:. $(BIN)/python -m benchmarks.load

clean:
	rm -rf $(VENV) $(LAMBDA_VENV) $(TOOLS_VENV) .aws-sam .aws-sam-build.log .pytest_cache .mypy_cache .ruff_cache .hypothesis
