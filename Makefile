# Two commands on a fresh machine: `make demo` and `make test`.
# Each target creates .venv on first use and installs what it needs.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIMES ?= 3.10 3.12

.PHONY: demo test lint bench test-runtimes check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

demo: $(STAMP)
	$(BIN)/ebs-failover replay events --shared-fake
	@echo; echo "== drills on a fresh embedded fake (a drill never fails over): a pair, a group, then a drill"
	@echo "   that fails and a clean-up that fails, each reported drill_failed (exit 1)"
	$(BIN)/ebs-failover drill pair-cn-demo0app01
	$(BIN)/ebs-failover drill pg-demo0orders
	$(BIN)/ebs-failover drill pair-cn-demo0app01 --fake-fault execute_failed; test $$? -eq 1
	$(BIN)/ebs-failover drill pair-cn-demo0app01 --fake-fault clear_failed; test $$? -eq 1

test: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

# dist/ebs-failover-<version>.zip: the FC python3.10 code package (function/ + cp310 manylinux wheels).
.PHONY: package
package: $(STAMP)
	$(BIN)/python tools/package.py

# ROS's own property validators (the ROS CDK) over every resource type of template.yml: FC3, RAM and SLS
# from npm; MNS, which npm lacks, from the JavaScript bundled in PyPI's ros-cdk-mns wheel (tests/ros_cdk_mns.sh).
# One core for all: each construct package's peer range (^1.7.0) accepts ros-cdk-core 1.12.0; fc3 and sls
# are at their newest npm versions, ram and mns at core's.
.PHONY: validate-template
validate-template: $(STAMP)
	npm install --no-save --no-audit --no-fund --prefix .ros-cdk @alicloud/ros-cdk-core@1.12.0 \
	  @alicloud/ros-cdk-fc3@1.11.0 @alicloud/ros-cdk-ram@1.12.0 @alicloud/ros-cdk-sls@1.11.0 \
	  @alicloud/ros-cdk-oss@1.12.0
	tests/ros_cdk_mns.sh 1.12.0 .ros-cdk $(BIN)/python
	$(BIN)/python -c 'import json,sys,yaml; json.dump(yaml.safe_load(open("template.yml")), sys.stdout)' \
	  | NODE_PATH=.ros-cdk/node_modules node tests/validate_template.js

# The FC runtimes are python3.10 and python3.12: run the suite on each
# (the package build is tested once, by `make test`: it targets python3.10 whatever runs pytest).
test-runtimes:
	@for v in $(RUNTIMES); do \
	  py=$$(.ci/find-python $$v) || exit 1; \
	  echo "== $$py"; \
	  $(MAKE) --no-print-directory test PYTHON=$$py VENV=.venv-$$v PYTEST_ARGS='-m "not package"' || exit 1; \
	done

check: test lint
	$(BIN)/pip check

clean:
	rm -rf $(VENV) .venv-* dist build .pytest_cache .mypy_cache .ruff_cache .ros-cdk
