# GridTokenX: `make run` starts the demo network of sites, `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export GTX_DEV ?= 1
PORT ?= 8000

.PHONY: run test bench lint format deps locale chromium faults-tools faults soak clean

deps: $(VENV)/.installed node_modules/.installed locale

# Translations (README "Languages"): each locale/<lang>/LC_MESSAGES/django.po (templates and
# Python) and djangojs.po (what static/js writes) compiled to its .mo with gettext's msgfmt
# (installed when missing); the .mo files are never committed.
PO_FILES := $(wildcard locale/*/LC_MESSAGES/django.po locale/*/LC_MESSAGES/djangojs.po)
locale: $(PO_FILES:.po=.mo)

%.mo: %.po
	@command -v msgfmt >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null)
	msgfmt --check -o $@ $<

$(VENV)/.installed: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	mkdir -p node_modules && touch $@

run: deps
	$(PY) -m localnet.devservers -- bash -c '\
	  $(PY) manage.py collectstatic --noinput -v0 && \
	  $(PY) manage.py demo_banner --port $(PORT) && \
	  exec env GTX_METRICS_TOKEN=dev-metrics GTX_DEMO_MARKET=1 GTX_DEMO_GRID=1 GTX_METERS_DEMO=1 $(PY) manage.py network --demo --genesis-config thai_market.toml --followers ERC --base-port $(PORT) --open-browser'

chromium:
	@command -v chromium >/dev/null && dpkg -s fonts-thai-tlwg >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-thai-tlwg >/dev/null)

# The fault run (tests/faults, docs/FAULTS.md) builds its clock shim with gcc and
# forwards PostgreSQL and Redis into network namespaces with socat.
faults-tools:
	@command -v socat >/dev/null && command -v gcc >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq socat gcc libc6-dev >/dev/null)

# Tests that start no process run on both cores (pytest-xdist, a database each); then the
# live ones (marked `live`: sites, browsers, faults), one at a time. PYTEST_ARGS goes to both;
# a run that selects nothing in one half (exit 5) is not a failure. The live half prints its
# slowest tests: CI has 30 minutes, and it takes most of them.
test: deps chromium faults-tools
	$(PY) -m localnet.devservers -- env GTX_TEST_FAST_HASHER=1 bash -c '\
	  $(PY) -m pytest -n 2 --dist loadfile -m "not live" $(PYTEST_ARGS); code=$$?; [ $$code = 0 -o $$code = 5 ] || exit $$code; \
	  $(PY) -m pytest -m live --durations=15 $(PYTEST_ARGS); code=$$?; [ $$code = 0 -o $$code = 5 ] || exit $$code'

# The long fault run: FAULT_SECONDS of faults (seed: FAULT_SEED, else drawn and printed);
# FAULT_SEEDS=K runs the schedules of K seeds from FAULT_SEED one after another on one network
# (FAULT_BUDGET_MINUTES: start no seed after that long).
FAULT_SECONDS ?= 120
faults: deps faults-tools
	$(PY) -m localnet.devservers -- env GTX_TEST_FAST_HASHER=1 $(PY) -m faults.run --seconds $(FAULT_SECONDS) $(if $(FAULT_SEED),--seed $(FAULT_SEED)) $(if $(FAULT_SEEDS),--seeds $(FAULT_SEEDS)) $(if $(FAULT_BUDGET_MINUTES),--budget-minutes $(FAULT_BUDGET_MINUTES))

# The soak: the demo network, its simulators and a steady load for SOAK_SECONDS, sampling
# each site's memory, database and log sizes; says whether each stays flat (docs/FAULTS.md).
SOAK_SECONDS ?= 3600
soak: deps
	$(PY) -m localnet.devservers -- env GTX_TEST_FAST_HASHER=1 $(PY) -m faults.soak --seconds $(SOAK_SECONDS)

bench: deps
	$(PY) -m localnet.devservers -- bash bench/run_all.sh

lint: deps
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(PY) -m localnet.devservers -- $(PY) manage.py makemigrations --check --dry-run -v0

format: deps
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) node_modules staticfiles .devdata .node locale/*/LC_MESSAGES/*.mo
