# Casebook: `make run` sets everything up and serves the sample site; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: setup bytecode system-deps axe run ingest build serve test lint gate bench clean

$(BIN)/casebook: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	$(MAKE) --no-print-directory bytecode
	touch $@

# Our modules' bytecode, written once: where PYTHONDONTWRITEBYTECODE is set, every command
# would otherwise compile them from source again (~0.1 s a run). Stale files are ignored.
bytecode:
	$(BIN)/python -c "from bench.run import compile_sources; compile_sources()"

setup: $(BIN)/casebook

system-deps:          ## Debian's chromium, a CJK font, nginx and systemd-analyze, for the browser and deploy tests
	bash tools/install-system-deps.sh

axe: setup           ## the pinned axe-core from the npm registry, for the accessibility tests
	$(BIN)/python tools/fetch_axe.py

ingest: setup
	$(BIN)/casebook ingest samples/raw --report var/ingest-report.jsonl || true

build: setup
	$(BIN)/casebook build

serve: setup
	$(BIN)/casebook serve --port $(PORT)

run: ingest build serve

lint: setup          ## ruff, and mypy over the files pyproject.toml names
	$(BIN)/ruff check .
	$(BIN)/mypy

gate: setup           ## extraction and search quality against pinned floors
	$(BIN)/python bench/quality_gate.py

test: setup system-deps axe lint gate
	$(BIN)/python -m pytest -n auto

bench: setup
	$(BIN)/pip install --quiet -e ".[test,bench]"
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) output var artifacts .pytest_cache
