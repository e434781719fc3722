# Two commands for a new user: `make run` and `make test`. Each makes its own venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
export RMBOOK_DATABASE_URL ?= sqlite:///./var/rmbook.db

.PHONY: run test lint typecheck unit clean bench-small

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> installing rmbook and its dev tools into $(VENV) (first time takes a minute)"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

## run: load the small demo bank into the embedded SQLite store (once) and show it
run: $(STAMP)
	@mkdir -p var
	@$(BIN)/rmbook demo --scale small --seed 42 --if-empty
	@$(BIN)/rmbook summary
	@echo
	@echo "Try:  $(BIN)/rmbook customer show C000001"
	@echo "      $(BIN)/rmbook manager show M0001 --as-of 2025-06-30"
	@echo "      (store: $(RMBOOK_DATABASE_URL))"

## test: lint, type-check and run the whole suite (SQLite, and PostgreSQL when reachable)
test: $(STAMP) lint typecheck
	@$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	@$(BIN)/ruff check .

typecheck: $(STAMP)
	@$(BIN)/mypy

unit: $(STAMP)
	@$(BIN)/python -m pytest -q tests/unit tests/property

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
