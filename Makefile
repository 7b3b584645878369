# The README's two setup commands: `make demo` and `make test`. Both work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export BOUCLIER_CACHE ?= $(CURDIR)/.cache

.PHONY: demo test bench bench-data venv system-deps pg clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[bench,test,serve,pdf]'
	touch $(STAMP)

venv: $(STAMP)

# Main job end-to-end on the embedded default (SQLite, local files).
demo: $(STAMP)
	$(BIN)/bouclier demo --out demo-out

# Debian packages the tests need (PostgreSQL, Chromium); no-op when present.
system-deps:
	bash scripts/system-deps.sh

# Photos that Debian packages ship, used when no --corpus is given.
bench-data: $(STAMP)
	bash scripts/bench-data.sh "$(BOUCLIER_CACHE)/bench-data"

test: $(STAMP) system-deps bench-data
	bash scripts/run-tests.sh

bench: $(STAMP) bench-data
	$(BIN)/bouclier bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) bench-results demo-out .pytest_cache
