# cartrial: two commands on a fresh Debian machine with Python 3.11.
#   make demo   set everything up, then run the whole study in silico and write the report
#   make test   set everything up, then ruff, mypy on the core packages and every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest system-deps clean bench

$(STAMP): pyproject.toml scripts/system-deps.sh tests/web/axe/package-lock.json
	bash scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,distributed,pdf]'
	cd tests/web/axe && npm ci --ignore-scripts --no-audit --no-fund --silent  # axe-core
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cartrial demo --out demo-output

LINT_PATHS := $(wildcard src tests benchmarks)

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

# mypy on the core packages and the clients (those of them that exist)
CORE := $(wildcard src/cartrial/protocol src/cartrial/rules src/cartrial/designs src/cartrial/analysis src/cartrial/store src/cartrial/simulation src/cartrial/services src/cartrial/exchange src/cartrial/demo src/cartrial/web src/cartrial/cli src/cartrial/report)

typecheck: $(STAMP)
	$(BIN)/mypy $(CORE)

pytest: $(STAMP)
	bash scripts/with-postgres.sh $(BIN)/python -m pytest -n 2 -q -p no:cacheprovider

test: lint typecheck pytest

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-output
