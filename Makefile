# Two entry points a newcomer needs: `make demo` and `make test`.
# Everything the project needs is installed here, into .venv, from the project's own files.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck check bench clean ext system-packages

EXT    := ext/pgwarden_wal
# The embedded server's pg_config (the server the tests and the demo run by default).
EMBEDDED_PG_CONFIG = $(shell $(PY) -c "from pgwarden.server._system import bin_path; print(bin_path() / 'pg_config')")

$(STAMP): pyproject.toml $(EXT)/*.c $(EXT)/*.h $(EXT)/pgwarden_wal.control $(EXT)/*.sql
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(MAKE) --no-print-directory ext
	touch $(STAMP)

# Audit's C statement trigger (extension pgwarden_wal), built and installed into the embedded
# server. For another server: make -C ext/pgwarden_wal install PG_CONFIG=/its/pg_config
ext:
	$(MAKE) --no-print-directory -s -C $(EXT) install PG_CONFIG="$(EMBEDDED_PG_CONFIG)"
	$(MAKE) --no-print-directory -s -C $(EXT) clean PG_CONFIG="$(EMBEDDED_PG_CONFIG)"

# DEMO_ARGS=--check: serve the API briefly, log in, exit (what CI runs).
demo: $(STAMP)
	$(VENV)/bin/pgwarden demo $(DEMO_ARGS)

test: $(STAMP)
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict src/pgwarden examples/pgwarden-notify/src

check: lint typecheck test

# Real peers of the tests (browser, pooler, Prometheus, pgBackRest) and of the benches (wrk):
# Debian packages, as root.
APT_PACKAGES = $(shell grep -v '^\s*\(\#\|$$\)' .ci/apt-packages)
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
