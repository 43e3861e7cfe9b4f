# Two commands on a bare machine: `make run` and `make test`. Each bootstraps .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format lint-migrations migrate seed clean bench api-types app workbench

$(STAMP): pyproject.toml hatch_build.py esign/codec/_b45.c esign/codec/_cbor.c api/kernel/_pgcopy.c
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

# The citizen app (clients/app): its packages from its lockfile; `make app` rebuilds api/h5_app, the copy
# that `zhangban serve` answers at /app (committed, so `make run` needs no Node; a test compares it).
APP := clients/app
$(APP)/node_modules/.package-lock.json: $(APP)/package-lock.json
	-command -v npm >/dev/null && cd $(APP) && npm ci --no-audit --no-fund

app: $(APP)/node_modules/.package-lock.json
	cd $(APP) && node_modules/.bin/vite build

# The staff workbench (clients/workbench): `make workbench` rebuilds api/workbench_app, served at /workbench.
WORKBENCH := clients/workbench
$(WORKBENCH)/node_modules/.package-lock.json: $(WORKBENCH)/package-lock.json
	-command -v npm >/dev/null && cd $(WORKBENCH) && npm ci --no-audit --no-fund

workbench: $(WORKBENCH)/node_modules/.package-lock.json
	cd $(WORKBENCH) && node_modules/.bin/vite build

test: $(STAMP) $(JS_SDK)/node_modules/.package-lock.json $(APP)/node_modules/.package-lock.json $(WORKBENCH)/node_modules/.package-lock.json
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The migration linter (lint-migrations, below), ruff (linter and formatter), the import contracts of docs/architecture.md
# ([tool.importlinter] in pyproject.toml), then mypy on the production packages ([tool.mypy]): about
# 20 seconds.
lint: lint-migrations $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# The formatter and the linter's safe fixes ([tool.ruff] in pyproject.toml), as make lint checks them.
format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# After an OpenAPI change: the SDK's generated types follow the document (a test keeps them current).
api-types: $(STAMP) $(JS_SDK)/node_modules/.package-lock.json
	$(BIN)/python -c "import json; from api.app import create_app; from api.config import Settings; \
	print(json.dumps(create_app(Settings(env='development')).openapi_schema.to_schema(), ensure_ascii=False))" \
	> $(JS_SDK)/openapi.json
	cd $(JS_SDK) && node_modules/.bin/openapi-typescript openapi.json -o src/generated/openapi.ts && rm openapi.json

# The migration linter, squawk (.squawk.toml says what it checks). Each file is linted as the runner
# applies it: in a transaction, or outside one when it builds or drops an index CONCURRENTLY (api/kernel/db.py).
MIGRATIONS := $(wildcard migrations/[0-9][0-9][0-9][0-9]_*.sql)
OUTSIDE_TRANSACTION := '^[^-]*\bCONCURRENTLY\b'
lint-migrations: $(STAMP)
	@status=0; \
	inside="$$(grep -LiE $(OUTSIDE_TRANSACTION) $(MIGRATIONS))"; \
	outside="$$(grep -liE $(OUTSIDE_TRANSACTION) $(MIGRATIONS))"; \
	if [ -n "$$inside" ]; then $(BIN)/squawk --assume-in-transaction $$inside || status=1; fi; \
	if [ -n "$$outside" ]; then $(BIN)/squawk --no-assume-in-transaction $$outside || status=1; fi; \
	exit $$status

migrate: $(STAMP)
	$(BIN)/zhangban migrate

seed: $(STAMP)
	$(BIN)/zhangban seed

clean:
	rm -rf $(VENV) .pytest_cache
