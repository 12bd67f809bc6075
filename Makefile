# Two commands do all set-up on a fresh machine with Python 3.11+:
#   make run    start the whole stack locally and print the URLs
#   make test   run the test suite against real local servers
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
PORT ?= 8000

.PHONY: install run test demo bench import-bins load-bins clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
		{ echo "Python 3.11 or newer is needed; set PYTHON=python3.11 (or newer)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(RUNTIME_STAMP) $@

install: $(DEV_STAMP)

run: $(RUNTIME_STAMP)
	PORT=$(PORT) $(BIN)/python -m scripts.run_local

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -q

demo: $(RUNTIME_STAMP)
	$(BIN)/python -m scripts.demo --url http://127.0.0.1:$(PORT) $(if $(PHOTO),--photo "$(PHOTO)") $(ARGS)

bench: $(DEV_STAMP)
	$(BIN)/python -m scripts.bench

import-bins: $(RUNTIME_STAMP)
	$(BIN)/python -m scripts.import_bins

clean:
	rm -rf $(VENV) .run test-output bench-output .pytest_cache
