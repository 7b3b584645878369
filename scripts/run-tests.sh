#!/usr/bin/env bash
# Runs the whole suite against real services: a PostgreSQL on loopback, then the benchmark smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PGDIR=$(mktemp -d /tmp/bouclier-pg.XXXXXX)
cleanup() { bash scripts/pg.sh stop "$PGDIR" || true; rm -rf "$PGDIR"; }
trap cleanup EXIT
export BOUCLIER_TEST_PG_URL=$(bash scripts/pg.sh start "$PGDIR")
echo "PostgreSQL for tests: $BOUCLIER_TEST_PG_URL"
$BIN/python -m pytest "$@"
