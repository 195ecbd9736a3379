# fitbeam developer commands. Each target creates or reuses the virtual environment itself.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv demo test lint format simulate emulators-up emulators-down bench bench-latency bench-quota template clean

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,docs]'
	touch $@

venv: $(VENV)/.installed

# checkov, for tests/unit/test_terraform.py, in a venv of its own (its pins clash with the project's).
TOOLS ?= .local/tools
.PHONY: tools

$(TOOLS)/.installed: deploy/terraform/tools-requirements.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet -r deploy/terraform/tools-requirements.txt
	touch $@

tools: $(TOOLS)/.installed

# The docs site (mkdocs.yml, docs/): --strict fails on a broken link or anchor and on a
# page missing from the nav. Build from the repository root (docs/terraform.md includes
# deploy/terraform/README.md by a path from here).
.PHONY: docs
docs: venv
	$(VENV)/bin/mkdocs build --strict --site-dir .local/site

# What each command needs beyond Python 3.11 (localdev/prerequisites.py): one line per
# missing piece, before anything is installed or started.
prereqs-%:
	@$(PYTHON) -m localdev.prerequisites $*

demo: prereqs-demo venv
	$(VENV)/bin/fitbeam demo

# Every test, on two cores: the end-to-end tests (tests/e2e; mostly waiting on the emulators,
# which run in processes of their own) beside all the others, each half's output shown when
# it ends. Either half failing fails the target. The end-to-end tests of the imports run in
# the other half, after the rest of it, so that the halves take about as long.
.PHONY: test-e2e test-rest
E2E_IN_REST := tests/e2e/test_imports.py
test: prereqs-test venv lint tools docs
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-e2e test-rest

test-e2e:
	$(PY) -m pytest -q -p no:cacheprovider --durations=10 tests/e2e --ignore=$(E2E_IN_REST)

test-rest:
	$(PY) -m pytest -q -p no:cacheprovider --ignore=tests/e2e
	$(PY) -m pytest -q -p no:cacheprovider --durations=5 $(E2E_IN_REST)

# The fast loop: every test but those that start the emulators (marker `emulators`) and the
# token race (marker `slow`), on two cores: the API tests (client, simulator, transforms)
# beside all the others, each half's output shown when it ends. `make test` runs them all.
FAST_ARGS := -m "not emulators and not slow" -p no:cacheprovider
API_TESTS := tests/client tests/simulator tests/transforms tests/conformance
.PHONY: test-fast test-fast-api test-fast-rest
test-fast: venv tools
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-fast-api test-fast-rest

test-fast-api:
	$(PY) -m pytest -q $(FAST_ARGS) $(API_TESTS)

test-fast-rest:
	$(PY) -m pytest -q $(FAST_ARGS) $(addprefix --ignore=,$(API_TESTS))

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

simulate: venv
	$(VENV)/bin/fitbeam simulate --port 8180

emulators-up: venv
	$(PY) -m localdev.emulators up --state_dir .local

emulators-down: venv
	$(PY) -m localdev.emulators down --state_dir .local

# Speed and scale figures beside their goals (bench/scorecard.py): about 15 minutes on 2
# busy cores; `make bench BENCH_ARGS=--quick` for small sizes.
bench: venv
	$(PY) -m bench.scorecard $(BENCH_ARGS)

bench-latency: venv
	$(PY) -m bench.streaming_latency

bench-quota: venv
	$(PY) -m bench.quota

# The project's quota at study scale: 200 users x 30 days on 4 worker processes against a
# project quota scaled down to 6,000 a minute (bench/study_quota.py; about 6 minutes).
.PHONY: bench-study-quota
bench-study-quota: venv
	$(PY) -m bench.study_quota

# Flex Template: builds and pushes the image with Cloud Build, then writes the template
# spec to gs://$(BUCKET)/templates/fitbeam.json (docs/deploy-template.md), e.g.
#   make template PROJECT=my-project REGION=europe-west1 REPO=fitbeam BUCKET=my-bucket
# IMAGE defaults to the Artifact Registry repository REPO in REGION, tagged with the commit.
TAG ?= $(shell git describe --always --dirty 2>/dev/null)
IMAGE ?= $(REGION)-docker.pkg.dev/$(PROJECT)/$(REPO)/fitbeam:$(TAG)
DEFAULT_IMAGE = $(filter file,$(origin IMAGE))
TEMPLATE_USAGE := make template PROJECT=my-project REGION=europe-west1 REPO=fitbeam BUCKET=my-bucket

template: venv
	$(if $(PROJECT),,$(error PROJECT (Google Cloud project id) is not set; e.g. $(TEMPLATE_USAGE)))
	$(if $(BUCKET),,$(error BUCKET (for the template spec) is not set; e.g. $(TEMPLATE_USAGE)))
	$(if $(DEFAULT_IMAGE),$(if $(REGION),,$(error REGION (of the Artifact Registry repository) is not set; e.g. $(TEMPLATE_USAGE), or set IMAGE)))
	$(if $(DEFAULT_IMAGE),$(if $(REPO),,$(error REPO (Artifact Registry repository) is not set; e.g. $(TEMPLATE_USAGE), or set IMAGE)))
	$(if $(DEFAULT_IMAGE),$(if $(TAG),,$(error TAG is not set and there is no commit to tag the image with; set TAG or IMAGE)))
	@$(PY) -m pipeline.flex_template | diff -u flex_template.json - || { echo "flex_template.json is stale: run $(PY) -m pipeline.flex_template > flex_template.json" >&2; exit 1; }
	gcloud builds submit --project $(PROJECT) --tag $(IMAGE) .
	gcloud dataflow flex-template build gs://$(BUCKET)/templates/fitbeam.json \
		--project $(PROJECT) --image $(IMAGE) --sdk-language PYTHON \
		--metadata-file flex_template.json
	@echo "template gs://$(BUCKET)/templates/fitbeam.json runs image $(IMAGE)"

clean:
	rm -rf $(VENV) .local .pytest_cache build *.egg-info
