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

## run: load the small demo bank into the embedded SQLite store (once) and serve the HTTP API
run: $(STAMP)
	@mkdir -p var
	@$(BIN)/rmbook demo --scale small --seed 42 --if-empty
	@$(BIN)/rmbook auth init --path var/rmbook-auth.toml
	@echo
	@echo "==> rmbook API at http://127.0.0.1:8000/docs  (Authorize with a token above)"
	@echo "    store: $(RMBOOK_DATABASE_URL); CLI: RMBOOK_DATABASE_URL=$(RMBOOK_DATABASE_URL) $(BIN)/rmbook --help; Ctrl-C stops"
	@RMBOOK_AUTH_FILE=var/rmbook-auth.toml $(BIN)/rmbook serve --host 127.0.0.1 --port 8000

## test: lint, type-check and run the whole suite (SQLite, and PostgreSQL when reachable)
test: $(STAMP) lint typecheck
	@$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile

lint: $(STAMP)
	@$(BIN)/ruff check .

typecheck: $(STAMP)
	@$(BIN)/mypy

unit: $(STAMP)
	@$(BIN)/python -m pytest -q tests/unit tests/property

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
