# The two commands of the README:
#   sudo make demo   - the main job: build the lab guest if needed, load vnet0, show it live
#   sudo make test   - lint, host unit tests, then the guest tests in the lab
# GUEST=bookworm|trixie|trixie-backports picks the lab guest (default: $VNET_LAB_GUEST,
# else trixie), e.g. `sudo make vm GUEST=bookworm`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
LAB := $(VENV)/bin/vnet-lab
VM_TIMEOUT ?= 1500
GUEST ?=
ifneq ($(GUEST),)
export VNET_LAB_GUEST := $(GUEST)
endif

.PHONY: demo test lint unit vm bench deps clean

demo: deps $(VENV)/.installed
	$(LAB) demo

test: lint unit vm

deps:
	@sh scripts/host-deps.sh

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	@if command -v vagrant >/dev/null; then vagrant validate --ignore-provider; fi

unit: $(VENV)/.installed
	$(VENV)/bin/pytest -q tests/unit

vm: deps $(VENV)/.installed
	$(LAB) run --timeout $(VM_TIMEOUT) -- python3 -m pytest -q --color=no -p no:cacheprovider tests/vm

# Ratios measured side by side in one lab run (docs/benchmarks.md).  The guest gets no
# environment of ours: BENCH_* settings (BENCH_ROUNDS=7 ...) are passed on explicitly.
BENCH_ENV = $(shell env | grep '^BENCH_[A-Z_]*=' | tr '\n' ' ')
bench: deps $(VENV)/.installed
	@$(LAB) run -- true >/dev/null 2>&1  # the driver is built: time a plain run next
	@TIMEFORMAT='vnet-lab run -- true: %R s (target <= 20 s)'; time $(LAB) run -- true
	$(LAB) run --timeout 1800 -- env $(BENCH_ENV) python3 bench/bench.py
	$(LAB) run --timeout 900 -- env $(BENCH_ENV) python3 bench/tracing_cost.py

clean:
	$(MAKE) -C kmod clean
	rm -rf $(VENV) .lab
