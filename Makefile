# The two quick-start commands: `make demo` and `make test`.
# Each sets itself up (apt packages, .venv, CPU torch, the project) idempotently.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
APT_PKGS := libusb-1.0-0 libgl1 libegl1 libxrender1 chromium xvfb
TORCH_VERSION ?= 2.13.0
DEMO_OUT ?= data/demo

.PHONY: demo test setup apt bench clean

demo: setup
	$(VENV)/bin/meshlearn demo --out $(DEMO_OUT)

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

setup: apt $(STAMP)

apt:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "warning: missing system packages:$$missing (run as root or install them: apt-get install$$missing)"; fi; \
	fi

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==$(TORCH_VERSION)
	$(PIP) install -q -e '.[all,dev]'
	touch $(STAMP)

# every benchmarks/bench_*.py with small sizes; BENCH_ARGS=--full for the sizes the README reports
bench: setup
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data/demo .pytest_cache
