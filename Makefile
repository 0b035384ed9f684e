# Two commands on a fresh machine (Debian, Python 3.11):
#   make run    offline evolution of a shipped problem (no cluster, no API key)
#   make test   install what the tests need, lint, type-check, then run the test suite

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PROBLEM ?= problems/function_minimization
ITERATIONS ?= 400
RUN_DIR ?= runs/$(notdir $(PROBLEM))-$(shell date +%Y%m%d-%H%M%S)

.PHONY: run test lint typecheck venv clean engine image host-deps

venv: $(VENV)/.installed

# Re-install when the dependency list changes. Debian's python3 may ship
# without ensurepip: install python3-venv then (needs root, as on CI).
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c 'import ensurepip' 2>/dev/null \
	  || (apt-get update -qq && apt-get install -y -qq python3-venv)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

run: venv
	$(BIN)/evolve run $(PROBLEM) --iterations $(ITERATIONS) --out $(RUN_DIR)
	$(BIN)/evolve show $(RUN_DIR)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy --strict on evolve/, sandboxes/, evaluators/ (settings in pyproject.toml).
typecheck: venv
	$(BIN)/mypy

# What the tests need from the host: a Docker daemon (installed from Debian's
# docker.io and started when none answers; fails loudly otherwise), Debian's
# chromium for the HTML report's browser test, and the sandbox image (built
# offline from Debian's packages when no registry answers; cached by a hash of
# its inputs, so this is instant when nothing changed).
engine:
	sh sandboxes/docker/ensure_engine.sh

host-deps: engine
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

image: venv engine
	$(BIN)/evolve sandbox build

test: venv lint typecheck host-deps image
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
