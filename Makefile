# Two entry points for a fresh machine: `make demo` and `make test`. Each installs what it needs:
# uv (from the package registry, into .tools/ when it is not on PATH) and the locked environment (.venv).
PYTHON ?= python3
UV_VERSION ?= 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
DEMO_DIR ?= demo
# Debian's Chromium: the report tests open the pack's pages in it (headless, network blocked)
CHROMIUM := $(shell command -v chromium 2>/dev/null || echo /usr/bin/chromium)

.PHONY: demo test test-fast lint bench env clean contract browser

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

# --compile-bytecode: the packages' .pyc written once, at install. Without them (PYTHONDONTWRITEBYTECODE=1 here)
# every command compiled Apache Beam, pyarrow and DuckDB's Python from source: `uptake ingest` of one line 7.7 s → 3.2 s.
$(VENV)/.synced: uv.lock pyproject.toml Makefile | $(UV)
	$(UV) sync --locked --quiet --compile-bytecode
	touch $@

env: $(VENV)/.synced

$(CHROMIUM):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

browser: $(CHROMIUM)

demo: env
	$(VENV)/bin/uptake demo --out $(DEMO_DIR)

test: env browser
	$(VENV)/bin/python -m pytest -q -p no:logging

test-fast: env browser
	$(VENV)/bin/python -m pytest -q -m "not slow"

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy uptake schemas pipelines warehouse flows expectations report

bench: env
	$(VENV)/bin/python bench/ingest.py

clean:
	rm -rf $(VENV) .tools $(DEMO_DIR) lake

contract: env
	$(VENV)/bin/python -c "from schemas.events import contract_markdown; print(contract_markdown())"
