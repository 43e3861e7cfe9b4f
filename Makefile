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

# The TypeScript SDK's packages, from its lockfile (its tests skip, saying why, where npm is missing).
JS_SDK := clients/js
$(JS_SDK)/node_modules/.package-lock.json: $(JS_SDK)/package-lock.json
	-command -v npm >/dev/null && cd $(JS_SDK) && npm ci --no-audit --no-fund

test: $(STAMP) $(JS_SDK)/node_modules/.package-lock.json
	$(BIN)/python -m pytest $(PYTEST_ARGS)

migrate: $(STAMP)
	$(BIN)/zhangban migrate

seed: $(STAMP)
	$(BIN)/zhangban seed

clean:
	rm -rf $(VENV) .pytest_cache
