# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The collector tests talk to a real MLflow (in its own virtualenv: its pins fight ours) and a real Prometheus;
# the alert tests to a real Alertmanager too.
MLFLOW_VENV ?= .venv-mlflow
MLFLOW_STAMP := $(MLFLOW_VENV)/.installed
# Every install takes its versions from the lock: the whole set (runtime, dev, extras) for Python 3.11.
LOCK := constraints.txt
EXTRAS := dev,parquet,notebook
LOCK_PYTHON ?= python3.11
# A clone, bare or not, of https://github.com/pypa/advisory-database (for `make advisories`).
ADVISORY_DB ?= ../advisory-database

.PHONY: run demo test test-servers lint bench clean lock advisories audit

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --constraint $(LOCK) --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet --constraint $(LOCK) --build-constraint $(LOCK) -e ".[$(EXTRAS)]"
	touch $(STAMP)

run: $(STAMP)  ## set up, then run the bot: against Slack when tokens are set, else in the local sandbox (FRESH=1 starts it over)
	@if [ -n "$$SLACK_BOT_TOKEN$$SLACK_APP_TOKEN$$SLACK_CLIENT_ID" ]; then $(BIN)/retro serve; else $(BIN)/retro sandbox $(if $(FRESH),--fresh,); fi

demo: $(STAMP)  ## run the scripted ML incident end to end and write its verified bundle
	$(BIN)/retro demo

test: $(STAMP) test-servers  ## set up, then run the whole test suite (PostgreSQL too when RETRO_TEST_DATABASE_URL is set)
	$(BIN)/python -m tests.shards -q

$(MLFLOW_STAMP): tests/requirements-mlflow.txt
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet -r tests/requirements-mlflow.txt
	touch $(MLFLOW_STAMP)

test-servers: $(MLFLOW_STAMP)  ## MLflow (own virtualenv), Debian's prometheus, prometheus-alertmanager and chromium for the collector, alert and browser tests
	@command -v prometheus >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || { apt-get update -q >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null; }
	@command -v prometheus >/dev/null 2>&1 || echo "note: no prometheus binary (apt-get install prometheus as root); its tests will say they skip"
	@command -v prometheus-alertmanager >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || { apt-get update -q >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus-alertmanager >/dev/null; }
	@command -v prometheus-alertmanager >/dev/null 2>&1 || echo "note: no prometheus-alertmanager binary (apt-get install prometheus-alertmanager as root); the alert tests will say they skip"
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || { apt-get update -q >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null; }
	@command -v chromium >/dev/null 2>&1 || echo "note: no chromium binary (apt-get install chromium as root); the browser tests will say they skip"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy bot handlers storage sandbox bench
	$(BIN)/mypy .ci/*.py

lock:  ## resolve pyproject.toml afresh in a new Python 3.11 virtualenv and pin everything it installs in $(LOCK)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(LOCK_PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "make lock needs Python 3.11 (LOCK_PYTHON=...)")' && \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel && \
	"$$tmp/venv/bin/python" -m pip install --quiet ".[$(EXTRAS)]" && \
	{ echo "# Every package of retro[$(EXTRAS)], with pip, setuptools and wheel, for Python 3.11: pip install -c $(LOCK)"; \
	  echo "# Written by \`make lock\` from pyproject.toml in a fresh virtualenv; never edited by hand."; \
	  "$$tmp/venv/bin/python" -m pip freeze --all --exclude retro; } > $(LOCK).new && \
	mv $(LOCK).new $(LOCK)
	@echo "$(LOCK): $$(grep -c == $(LOCK)) pins. Then: make advisories ADVISORY_DB=<clone> && make audit"

advisories: $(STAMP)  ## refresh .ci/advisories.json for the pins of $(LOCK) from a PyPA advisory-database clone
	$(BIN)/python .ci/advisories_from_osv.py $(ADVISORY_DB)

audit: $(STAMP)  ## the lock holds pyproject.toml, and no pin has a known advisory (PyPI when it answers, else .ci/)
	$(BIN)/python .ci/audit.py

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(MLFLOW_VENV) *.egg-info
