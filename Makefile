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
	$(BIN)/python -m ebs_failover.demo

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

# The FC runtimes are python3.10 and python3.12: run the suite on each.
test-runtimes:
	@for v in $(RUNTIMES); do \
	  py=$$(.ci/find-python $$v) || exit 1; \
	  echo "== $$py"; \
	  $(MAKE) --no-print-directory test PYTHON=$$py VENV=.venv-$$v || exit 1; \
	done

check: test lint
	$(BIN)/pip check

clean:
	rm -rf $(VENV) .venv-* dist build .pytest_cache .mypy_cache .ruff_cache
