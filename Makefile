# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format sdk

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py ensure_demo_user
	@echo "V3 Trader: http://$(HOST):$(PORT)/  (log in as 'demo', password in data/demo_password)"
	@echo "Starting the web server, the exchange simulator, the feed runner and whale execution in one process."
	$(PY) manage.py run_all --host $(HOST) --port $(PORT)

test: $(VENV)/.dev sdk
	$(PY) -m pytest $(PYTEST_ARGS)

# Kalshi's official SDK in a Python 3.13 venv (it needs 3.13; on 3.11 pip picks a release
# of the retired API), for tests/trading/simulator/test_official_sdk.py. The first working
# python3.13 of $$V3_PYTHON313, PATH, pyenv's versions and Debian's /usr/bin. Without one
# the test is skipped with the reason; with V3_REQUIRE_SERVICES=1 (CI) this step fails.
SDK_VENV := .venv-sdk
SDK_PACKAGE := kalshi-python-async==3.34.0
sdk: $(SDK_VENV)/.ready

$(SDK_VENV)/.ready:
	@py=""; \
	for c in "$$V3_PYTHON313" python3.13 $$(ls -r $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13 2>/dev/null) /usr/bin/python3.13; do \
	  if [ -n "$$c" ] && "$$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then py="$$c"; break; fi; \
	done; \
	if [ -z "$$py" ]; then \
	  echo "make sdk: no Python 3.13 found (pyenv's, Debian's python3.13, or V3_PYTHON313): the official SDK test will be skipped"; \
	  [ "$$V3_REQUIRE_SERVICES" != 1 ]; exit $$?; \
	fi; \
	echo "make sdk: $(SDK_PACKAGE) into $(SDK_VENV) with $$py"; \
	"$$py" -m venv --clear $(SDK_VENV) && $(SDK_VENV)/bin/python -m pip install --quiet $(SDK_PACKAGE) && touch $@

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
