# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)  ## set up, then start the local Slack sandbox with the bot behind it
	$(BIN)/retro sandbox

demo: $(STAMP)  ## run the scripted ML incident end to end and write its verified bundle
	$(BIN)/retro demo

test: $(STAMP)  ## set up, then run the whole test suite (PostgreSQL too when RETRO_TEST_DATABASE_URL is set)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy bot handlers storage sandbox

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) *.egg-info
