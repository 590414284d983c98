# The README's commands. `make run` serves the API on embedded defaults; `make test`
# runs the whole suite. Both create the virtual environments and build the models first
# when they are missing. `make test` first installs and starts what the suite needs
# (scripts/install-test-deps.sh, as root; as another user it stops and says what to run)
# and runs pytest with CI=true, so a test that cannot run fails instead of skipping.
PYTHON ?= python3
VENV := .venv
BUILD_VENV := .venv-build
PY := $(VENV)/bin/python
BUILD_PY := $(BUILD_VENV)/bin/python
MANIFEST := models/build/MANIFEST.json
HOST ?= 127.0.0.1
PORT ?= 8080
PYTEST_ARGS ?=
BENCH_ARGS ?=

export DATABASE_URL ?= sqlite:///$(CURDIR)/var/facerec.sqlite3
export MODEL_DIR ?= $(CURDIR)/var/models

.PHONY: run test test-deps models bench lint venv build-venv mariadb clean

venv: $(VENV)/.installed
build-venv: $(BUILD_VENV)/.installed

# The last two are pulled in by requirements-dev.txt (-r): a change to either reinstalls.
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml \
    benchmarks/requirements.txt kubernetes-deployment-azure/requirements-check.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(BUILD_VENV)/.installed: models/requirements-build.txt
	test -x $(BUILD_PY) || $(PYTHON) -m venv $(BUILD_VENV)
	$(BUILD_PY) -m pip install --quiet --upgrade pip
	$(BUILD_PY) -m pip install --quiet -r models/requirements-build.txt
	touch $@

# Built once; `make models` re-checks everything (seconds when all is in place).
$(MANIFEST):
	$(MAKE) models

# models.reference needs the runtime venv (OpenCV and the API's own face pipeline).
models: $(BUILD_VENV)/.installed $(VENV)/.installed
	$(BUILD_PY) -m models.build
	$(PY) -m models.reference

run: $(VENV)/.installed $(MANIFEST)
	mkdir -p var/models
	$(VENV)/bin/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) 'api.app:create_app()'

mariadb:
	bash database/start-local.sh

# First, so a machine that cannot run the suite stops before minutes of building.
test-deps:
	bash scripts/install-test-deps.sh

test: test-deps $(VENV)/.installed $(MANIFEST)
	CI=$${CI:-true} $(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(VENV)/.installed $(MANIFEST) mariadb
	$(PY) -m benchmarks.run_all $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache .ruff_cache
