# fitbeam developer commands. Each target creates or reuses the virtual environment itself.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv demo test lint format simulate emulators-up emulators-down bench bench-latency bench-quota clean

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/fitbeam demo

test: venv lint
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

simulate: venv
	$(VENV)/bin/fitbeam simulate --port 8180

emulators-up: venv
	$(PY) -m pipeline.emulators up --state_dir .local

emulators-down: venv
	$(PY) -m pipeline.emulators down --state_dir .local

bench: venv
	$(PY) -m bench.throughput

bench-latency: venv
	$(PY) -m bench.streaming_latency

bench-quota: venv
	$(PY) -m bench.quota

clean:
	rm -rf $(VENV) .local .pytest_cache build *.egg-info
