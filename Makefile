# The two commands of the README:
#   sudo make demo   - the main job: build the lab guest if needed, load vnet0, show it live
#   sudo make test   - lint, host unit tests, the guest tests in the lab on the default guest
#                      (trixie), then the smoke subset on the other guests (SMOKE_GUESTS)
# GUEST=bookworm|trixie|trixie-backports picks the lab guest (default: $VNET_LAB_GUEST,
# else trixie), e.g. `sudo make vm GUEST=bookworm`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
LAB := $(VENV)/bin/vnet-lab
VM_TIMEOUT ?= 3000
SMOKE_GUESTS ?= bookworm trixie-backports
PYTEST_VM = python3 -m pytest -q --color=no -p no:cacheprovider --durations=8
GUEST ?=
ifneq ($(GUEST),)
export VNET_LAB_GUEST := $(GUEST)
endif

.PHONY: demo lesson test lint unit wheel vm vm-smoke vm-all vagrant-test lessons kselftest bench bench-wire bench-queues soak soak-short repro-detach deps clean

demo: deps $(VENV)/.installed
	$(LAB) demo

# One lesson in the guest, narrated, with its checks: sudo make lesson N=1 (lessons/).
N ?= 1
lesson: deps $(VENV)/.installed
	$(LAB) lesson $(N)

test: lint unit vm-all

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

# The wheel users install (pipx install --system-site-packages dist/vnet_ebpf-*.whl); the
# guest tests install it too (tests/vm/test_wheel.py).  Offline: setuptools is in the venv.
wheel: $(VENV)/.installed
	rm -rf dist
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation -w dist .
	rm -rf build

# Each lab run says how long it took (CI's time split).
vm: deps wheel
	@TIMEFORMAT="== vm: all guest tests on $${VNET_LAB_GUEST:-the default guest} in %0R s"; \
		time $(LAB) run --timeout $(VM_TIMEOUT) -- $(PYTEST_VM) tests/vm

# Both of the above, side by side (one host core each under emulation): what `make test` runs.
vm-all: deps wheel
	@scripts/vm-tests.sh $(LAB) $(VM_TIMEOUT) "$(SMOKE_GUESTS)" $(PYTEST_VM)

# The Vagrantfile booted for real on libvirt with the lab's box (vnet-lab box): vagrant up,
# insmod, ethtool -i, vnet-trace napi, vagrant destroy (vnet_ebpf/lab/vagrant.py).
VAGRANT_TIMEOUT ?= 2400
vagrant-test: $(VENV)/.installed
	@sh scripts/host-deps.sh vagrant
	@TIMEFORMAT="== vagrant-test: on $${VNET_LAB_GUEST:-the default guest} in %0R s"; \
		time $(LAB) vagrant-test --timeout $(VAGRANT_TIMEOUT) $(if $(VAGRANT_CPUS),--cpus $(VAGRANT_CPUS))

# Every lesson's checker passes on the real driver and fails on its skeleton (lessons/).
lessons: deps
	@TIMEFORMAT="== lessons: proved on $${VNET_LAB_GUEST:-the default guest} in %0R s"; \
		time $(LAB) run --timeout $(VM_TIMEOUT) -- python3 -m vnet_ebpf.lessons.main prove

# The guest kernel's own drivers/net selftests over vnet0 and ns-remote/vnet1 joined by
# vnet-wire, as the netdev CI runs them on virtio_net (vnet_ebpf/lab/kselftest.py), on each
# of KSELFTEST_GUESTS; the results per test case in .lab/kselftest-GUEST.json.  Also in vm-all.
KSELFTEST_GUESTS ?= trixie-backports trixie
kselftest: deps $(VENV)/.installed
	@set -e; for g in $(KSELFTEST_GUESTS); do \
		TIMEFORMAT="== kselftest: drivers/net on $$g in %0R s"; \
		time $(LAB) kselftest --guest $$g --timeout $(VM_TIMEOUT); \
	done

# On the other guests: the W=1 build, load/unload and one test per area (pytest -m smoke).
vm-smoke: deps wheel
	@set -e; for g in $(SMOKE_GUESTS); do \
		TIMEFORMAT="== vm-smoke: smoke tests on $$g in %0R s"; \
		time $(LAB) run --guest $$g --timeout $(VM_TIMEOUT) -- $(PYTEST_VM) -m smoke tests/vm; \
	done

# Ratios measured side by side in one lab run (docs/benchmarks.md), on the default guest and
# on the newest kernel, each with the guest clock following the host's (wall) and counting
# instructions (QEMU -icount: the host's noise drops out of the ratios).  The guest gets
# no environment of ours: BENCH_* settings (BENCH_ROUNDS=7 ...) are passed on explicitly.
BENCH_ENV = $(shell env | grep '^BENCH_[A-Z_]*=' | tr '\n' ' ')
BENCH_GUESTS ?= trixie trixie-backports
BENCH_CLOCKS ?= wall icount
bench: deps $(VENV)/.installed
	@$(LAB) run -- true >/dev/null 2>&1  # the driver is built: time a plain run next
	@TIMEFORMAT='vnet-lab run -- true: %R s (target <= 20 s)'; time $(LAB) run -- true
	@set -e; for g in $(BENCH_GUESTS); do for c in $(BENCH_CLOCKS); do \
		echo "== bench: guest $$g, $$c clock"; \
		$(LAB) run --guest $$g $$([ $$c = icount ] && echo --icount) --timeout 3600 -- \
			env $(BENCH_ENV) BENCH_OUT=.lab/bench-$$g-$$c.json python3 bench/bench.py; \
	done; done
	$(LAB) run --timeout 900 -- env $(BENCH_ENV) python3 bench/tracing_cost.py
	$(MAKE) --no-print-directory bench-wire
	$(MAKE) --no-print-directory bench-queues
	@echo "== bench: side by side"
	@$(PY) bench/summary.py $(foreach g,$(BENCH_GUESTS),$(foreach c,$(BENCH_CLOCKS),.lab/bench-$(g)-$(c).json))

# vnet0 over dummy with one queue pair and with two, under the icount clock on the newest
# kernel (bench/queues.py, docs/benchmarks.md).
bench-queues: deps $(VENV)/.installed
	$(LAB) run --guest trixie-backports --icount --timeout 1800 -- \
		env $(BENCH_ENV) BENCH_OUT=.lab/bench-queues.json python3 bench/queues.py

# vnet-wire beside veth in one run on the default guest (bench/wire.py, docs/benchmarks.md).
bench-wire: deps $(VENV)/.installed
	$(LAB) run --timeout 1800 -- env $(BENCH_ENV) BENCH_OUT=.lab/bench-wire.json python3 bench/wire.py

# The driver under long, hostile use (soak/soak.py): every part, full cycle counts, on the
# default guest; writes docs/reliability.md.  soak-short is CI's twentieth (also in vm-all).
soak: deps $(VENV)/.installed
	$(LAB) run --timeout 10800 -- env SOAK_REPORT=docs/reliability.md SOAK_OUT=.lab/soak.json \
		python3 soak/soak.py $(PARTS)
soak-short: deps $(VENV)/.installed
	$(LAB) run --timeout 3600 -- env SOAK_SCALE=0.05 python3 soak/soak.py $(PARTS)

# The detach-panic reproducer (soak/kprobe_race.py; docs/architecture.md, known issues):
# each variant in its own VM, ITER iterations; a guest panic ends that VM (oops=panic)
# and its serial log stays in .lab/logs/.  VARIANTS: "variant:target:accel:cpus" words
# (GUEST=bookworm for 6.1).
ITER ?= 2000
VARIANTS ?= kprobe:vnet:tcg-mt:2 kprobe:vnet:tcg:2 kprobe:dummy:tcg-mt:2 kretprobe:vnet:tcg-mt:2 \
	ftrace:vnet:tcg-mt:2 kprobe:vnet:tcg-mt:1
repro-detach: deps $(VENV)/.installed
	@for v in $(VARIANTS); do IFS=: read -r var tgt acc cpus <<<"$$v"; \
		echo "== repro-detach: $$var on $$tgt, $$acc, $$cpus CPU(s), $(ITER) iterations"; \
		VNET_LAB_ACCEL=$$acc VNET_LAB_SMP=$$cpus $(LAB) run --timeout 7200 -- \
			python3 soak/kprobe_race.py --variant $$var --target $$tgt --iterations $(ITER) \
			2>&1 | tail -4; \
	done

clean:
	$(MAKE) -C kmod clean
	rm -rf $(VENV) .lab
