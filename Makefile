# hsmkms development tasks (GNU make; recipes are plain /bin/sh).

SHELL := /bin/sh

PYTHON ?= python3
VENV := .venv
VENV_COMPAT := .venv-compat
VENV_STAMP := $(VENV)/.installed
VENV_COMPAT_STAMP := $(VENV_COMPAT)/.installed
YANDEXCLOUD_VERSION := 0.413.0

DATA_DIR ?= .hsmkms-dev
LISTEN ?= 127.0.0.1:50051
PYTEST_ARGS ?=
BENCH_ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help deps bench-deps install run test bench lint proto clean distclean $(VENV) $(VENV_COMPAT)

help:
	@echo 'Targets:'
	@echo '  install     system packages (SoftHSM2) + $(VENV) with hsmkms and dev tools'
	@echo '  run         start a dev server (DATA_DIR=$(DATA_DIR), LISTEN=$(LISTEN))'
	@echo '  test        run the test suite (PYTEST_ARGS=...)'
	@echo '  bench       benchmark against the floors, one table (BENCH_ARGS=--quick, --out FILE)'
	@echo '  lint        ruff, mypy and a check that hsmkms/_pb matches proto/'
	@echo '  proto       regenerate hsmkms/_pb from proto/'
	@echo '  deps        install missing system packages (softhsm2)'
	@echo '  bench-deps  install missing benchmark tools (h2load from nghttp2-client)'
	@echo '  clean       remove build artifacts and caches; distclean also removes the venvs'

deps:
	sh softhsm/install-deps.sh softhsm2

bench-deps:
	sh softhsm/install-deps.sh h2load

# Editable install of hsmkms with the dev extra; redone when pyproject.toml changes.
$(VENV): $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -e '.[dev]'
	touch $@

# Separate interpreter for compatibility tests against the official SDK: yandexcloud pins
# protobuf<7, which conflicts with the server's protobuf 7.
$(VENV_COMPAT): $(VENV_COMPAT_STAMP)

$(VENV_COMPAT_STAMP):
	$(PYTHON) -m venv $(VENV_COMPAT)
	$(VENV_COMPAT)/bin/python -m pip install 'yandexcloud==$(YANDEXCLOUD_VERSION)'
	touch $@

install: deps $(VENV)

run: install
	$(VENV)/bin/hsmkms dev --data-dir $(DATA_DIR) --listen $(LISTEN)

test: install $(VENV_COMPAT)
	HSMKMS_COMPAT_PYTHON=$(CURDIR)/$(VENV_COMPAT)/bin/python $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# See docs/benchmarks.md; takes about 6 minutes (BENCH_ARGS=--quick: about 1).
bench: install bench-deps
	$(VENV)/bin/python benchmarks/bench.py $(BENCH_ARGS)

lint: $(VENV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy hsmkms
	$(VENV)/bin/python scripts/gen_proto.py --check

proto: $(VENV)
	$(VENV)/bin/python scripts/gen_proto.py

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache
	find . \( -path ./$(VENV) -o -path ./$(VENV_COMPAT) -o -path ./.git \) -prune -o \
		\( -name __pycache__ -o -name '*.egg-info' \) -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(VENV_COMPAT)
