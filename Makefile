# Two commands on a bare machine: `make run` and `make test`. Each bootstraps .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test migrate seed clean bench

$(STAMP): pyproject.toml hatch_build.py esign/_b45.c esign/_cbor.c api/_pgcopy.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/zhangban serve

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

migrate: $(STAMP)
	$(BIN)/zhangban migrate

seed: $(STAMP)
	$(BIN)/zhangban seed

clean:
	rm -rf $(VENV) .pytest_cache
