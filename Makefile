# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The collector tests talk to a real MLflow (in its own virtualenv: its pins fight ours) and a real Prometheus.
MLFLOW_VENV ?= .venv-mlflow
MLFLOW_STAMP := $(MLFLOW_VENV)/.installed

.PHONY: run demo test test-servers lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,parquet]"
	touch $(STAMP)

run: $(STAMP)  ## set up, then run the bot: against Slack when tokens are set, else in the local sandbox
	@if [ -n "$$SLACK_BOT_TOKEN$$SLACK_APP_TOKEN$$SLACK_CLIENT_ID" ]; then $(BIN)/retro serve; else $(BIN)/retro sandbox; fi

demo: $(STAMP)  ## run the scripted ML incident end to end and write its verified bundle
	$(BIN)/retro demo

test: $(STAMP) test-servers  ## set up, then run the whole test suite (PostgreSQL too when RETRO_TEST_DATABASE_URL is set)
	$(BIN)/pytest -q

$(MLFLOW_STAMP): tests/requirements-mlflow.txt
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet -r tests/requirements-mlflow.txt
	touch $(MLFLOW_STAMP)

test-servers: $(MLFLOW_STAMP)  ## MLflow (own virtualenv) and Debian's prometheus for the collector tests
	@command -v prometheus >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || { apt-get update -q >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null; }
	@command -v prometheus >/dev/null 2>&1 || echo "note: no prometheus binary (apt-get install prometheus as root); its tests will say they skip"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy bot handlers storage sandbox bench

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(MLFLOW_VENV) *.egg-info
