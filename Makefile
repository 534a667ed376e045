# The two commands of the README: `make book` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kbook-installed

.PHONY: book test install lint lock clean

# Create the virtual environment if missing and install kbook with its book and test extras,
# pinned by requirements/lock.txt. Re-runs only when pyproject.toml or the lock change.
$(STAMP): pyproject.toml requirements/lock.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --constraint requirements/lock.txt --editable ".[book,test]"
	touch $@

install: $(STAMP)

# Build the HTML book, executing every notebook (profile: gpu on CUDA, else cpu). Notebooks
# whose code did not change are taken from jupyter-book's execution cache.
book: $(STAMP)
	$(BIN)/jupyter-book build . --keep-going
	@echo "The book is at $(CURDIR)/_build/html/index.html"

# Unit tests and every notebook (nbval, smoke profile) in parallel over all cores; then a strict
# build that does not execute notebooks, so any Sphinx warning fails.
test: $(STAMP) lint
	KBOOK_PROFILE=smoke MPLBACKEND=agg $(BIN)/pytest -n auto --dist loadfile \
		--nbval-lax --nbval-current-env tests notebooks
	mkdir -p _build && $(BIN)/python scripts/check_build_config.py > _build/_config_check.yml
	$(BIN)/jupyter-book build . -W -n --keep-going --config _build/_config_check.yml \
		--path-output _build/check

lint: $(STAMP)
	$(BIN)/ruff check conftest.py src tests scripts notebooks

# Rewrite the lock from the current environment (after changing pyproject.toml).
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable > requirements/lock.txt

clean:
	rm -rf _build
