# Parley: `make run` to try it, `make test` to test it. See README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run setup test lint bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)
	mkdir -p var
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo

run: setup
	@echo
	@$(PY) manage.py ensure_admin
	@echo "Parley is starting on http://127.0.0.1:8000/admin/ (Ctrl-C stops the web server and the worker)"
	@echo
	@./scripts/run.sh

test: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf var/parley.sqlite3* var/staticfiles

# Benchmarks (PostgreSQL; not part of make test). DATABASE_URL defaults to .../parley_bench.
bench: $(STAMP)
	$(PY) -m benchmarks $(BENCH_ARGS)
