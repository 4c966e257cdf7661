# Build and test entry points for the veeam.enterprise_manager collection.
#
# A fresh Debian machine with Python 3.11 needs nothing but `make test` (or `make demo`):
# the tools are pinned in requirements-dev.txt / constraints-dev.txt and installed into .venv,
# and the few Debian packages needed are installed with apt-get when missing.
#
# ansible-test only runs from .../ansible_collections/<namespace>/<name>, so every ansible-test
# target first mirrors the working tree (what git would commit) into $(COLLECTION_BUILD).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= $(shell command -v python3.11 || command -v python3)
TEST_PYTHON_VERSION := 3.11

VENV := $(CURDIR)/.venv
VENV_BIN := $(VENV)/bin
VENV_PYTHON := $(VENV_BIN)/python
VENV_STAMP := $(VENV)/.installed-stamp
VENV_INPUTS := requirements-dev.txt constraints-dev.txt requirements.txt

BUILD_ROOT := $(CURDIR)/.build
COLLECTIONS_PATH := $(BUILD_ROOT)
COLLECTION_BUILD := $(BUILD_ROOT)/ansible_collections/veeam/enterprise_manager
# One simulator state dir per use, so a demo and a test run never share a simulator.
SIMULATOR_STATES := $(BUILD_ROOT)/simulator-integration $(BUILD_ROOT)/simulator-demo $(BUILD_ROOT)/simulator-sim
# `make sim SIM_ARGS="--vms 5 --profile healthy"`: extra simulator options (tests/simulator/em_simulator.py --help).
SIM_ARGS ?=

# ansible-test looks up python3.11 on PATH: make it the venv's, which has the test dependencies.
ANSIBLE_TEST := env PATH="$(VENV_BIN):$$PATH" $(VENV_BIN)/ansible-test
ANSIBLE_TEST_OPTIONS := --python $(TEST_PYTHON_VERSION) --color no
# Debian packages as PACKAGE:COMMAND (see tests/utils/ensure_debian_packages.sh).
# shellcheck: without it the shellcheck sanity test is skipped.
SANITY_DEBIAN_PACKAGES := shellcheck:shellcheck
# chromium: the cdp_compliance_report_browser target checks the HTML reports in headless Chromium.
INTEGRATION_DEBIAN_PACKAGES := chromium:chromium
# Java 17: ansible-rulebook's rule engine (Drools) runs in it (make eda-test).
EDA_DEBIAN_PACKAGES := openjdk-17-jre-headless
# postgresql: the history store's unit tests start a throw-away PostgreSQL server (tests/utils/postgres_server.py).
UNITS_DEBIAN_PACKAGES := postgresql

DEMO_PLAYBOOK ?= tests/demo/demo.yml
INTEGRATION_CONFIG := tests/integration/integration_config.yml
INTEGRATION_TEMPLATE := tests/integration/integration_config.yml.template

WITH_SIMULATOR = PYTHON="$(VENV_PYTHON)" tests/utils/with_simulator.sh $(BUILD_ROOT)/simulator-$@

# The HTML docsite of `make docs` (gitignored; the release tarball leaves it out too).
DOCS_DIR := $(CURDIR)/docs/build

# `make test-matrix`: sanity and units on each ansible-core that meta/runtime.yml's requires_ansible
# admits, newest patch of each minor release that installs on Python 3.11. One venv per version under
# $(MATRIX_VENVS) and one build tree per version, so versions never share ansible-test state.
MATRIX_ANSIBLE_CORE := 2.16.19 2.17.14 2.18.19 2.19.14
MATRIX_VENVS := $(BUILD_ROOT)/venv-matrix
MATRIX_CONSTRAINTS := tests/utils/constraints-matrix.txt
matrix_build = $(BUILD_ROOT)/matrix-$(1)/ansible_collections/veeam/enterprise_manager
# `make test` skips the matrix entry of the ansible-core in .venv: sanity and units already ran on it.
DEV_ANSIBLE_CORE := $(shell sed -n 's/^ansible-core==\([0-9.]*\).*/\1/p' requirements-dev.txt)

.PHONY: help venv sanity-system-deps units-system-deps integration-system-deps eda-system-deps build-tree get-pip-standin \
	no-sanity-ignores sanity units integration lint ecosystem awx-test eda-test docs test test-matrix demo bench clean sim sim-test

help:
	@echo "make venv         create .venv with the pinned tools (fast when up to date)"
	@echo "make sanity       ansible-test sanity --python $(TEST_PYTHON_VERSION) (no ignore files allowed)"
	@echo "make units        ansible-test units --python $(TEST_PYTHON_VERSION)"
	@echo "make integration  ansible-test integration against the TLS EM simulator (TARGETS=\"a b\" for some)"
	@echo "make lint         ansible-lint (production profile) and antsibull-changelog lint"
	@echo "make ecosystem    ansible-galaxy build, galaxy-importer, antsibull-docs lint, ansible-builder introspect"
	@echo "make awx-test     the audit as an AWX job (ansible-runner, injected credential) against the simulator"
	@echo "make eda-test     a real ansible-rulebook with the cdp_events source, and the sliced AWX audit of many EMs"
	@echo "make docs         HTML docsite with antsibull-docs into docs/build/"
	@echo "make test         sanity, units, integration, lint, ecosystem, awx-test, eda-test, docs and test-matrix"
	@echo "                  (the matrix without $(DEV_ANSIBLE_CORE), done already), stopping at the first failing target"
	@echo "make test-matrix  sanity and units on ansible-core $(MATRIX_ANSIBLE_CORE)"
	@echo "make demo         run tests/demo/demo.yml against the simulator"
	@echo "make sim          start the EM simulator for your own playbooks, print URL, CA, credentials; Ctrl-C stops it"
	@echo "make sim-test     check that make sim starts the simulator, prints how to reach it and stops on Ctrl-C"
	@echo "make bench        run tests/bench/run_bench.py"
	@echo "make clean        remove .venv, .build and test output"

venv: $(VENV_STAMP)

$(VENV_STAMP): $(VENV_INPUTS)
	@if ! "$(PYTHON)" -c 'import ensurepip, venv' 2>/dev/null; then \
		tests/utils/ensure_debian_packages.sh python3-venv; \
	fi
	@"$(PYTHON)" -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 11) else "need Python 3.11 for .venv, $(PYTHON) is %d.%d" % v)'
	@[ -x "$(VENV_PYTHON)" ] || "$(PYTHON)" -m venv "$(VENV)"
	"$(VENV_PYTHON)" -m pip install --disable-pip-version-check --quiet -r requirements-dev.txt
	@touch "$@"

sanity-system-deps:
	@tests/utils/ensure_debian_packages.sh $(SANITY_DEBIAN_PACKAGES)

units-system-deps:
	@tests/utils/ensure_debian_packages.sh $(UNITS_DEBIAN_PACKAGES)

integration-system-deps:
	@tests/utils/ensure_debian_packages.sh $(INTEGRATION_DEBIAN_PACKAGES)

# Where Java cannot be installed the rulebook test skips itself and says why; the rest of eda-test still runs.
eda-system-deps:
	@tests/utils/ensure_debian_packages.sh $(EDA_DEBIAN_PACKAGES) || \
		echo "eda-system-deps: could not install $(EDA_DEBIAN_PACKAGES); the ansible-rulebook test will be skipped" >&2

build-tree: $(VENV_STAMP)
	@"$(VENV_PYTHON)" tests/utils/sync_build_tree.py "$(CURDIR)" "$(COLLECTION_BUILD)"

get-pip-standin: $(VENV_STAMP)
	@"$(VENV_PYTHON)" tests/utils/install_get_pip_standin.py

no-sanity-ignores:
	@for ignore_file in tests/sanity/ignore-*.txt; do \
		if [ -e "$$ignore_file" ]; then \
			echo "$$ignore_file: sanity ignore files are not allowed, fix the code instead" >&2; exit 1; \
		fi; \
	done

sanity: no-sanity-ignores sanity-system-deps get-pip-standin build-tree
	cd "$(COLLECTION_BUILD)" && $(ANSIBLE_TEST) sanity $(ANSIBLE_TEST_OPTIONS)

units: units-system-deps get-pip-standin build-tree
	cd "$(COLLECTION_BUILD)" && $(ANSIBLE_TEST) units $(ANSIBLE_TEST_OPTIONS) --venv --requirements

integration: integration-system-deps get-pip-standin build-tree
	$(WITH_SIMULATOR) -- $(MAKE) --no-print-directory _integration-with-simulator

# Runs inside with_simulator.sh, which exports the simulator's address and credentials.
.PHONY: _integration-with-simulator
_integration-with-simulator:
	EM_USERNAME="$$VEEAM_EM_USERNAME" EM_PASSWORD="$$VEEAM_EM_PASSWORD" \
		"$(VENV_PYTHON)" tests/utils/render_template.py $(INTEGRATION_TEMPLATE) $(INTEGRATION_CONFIG)
	cp $(INTEGRATION_CONFIG) "$(COLLECTION_BUILD)/$(INTEGRATION_CONFIG)"
	cd "$(COLLECTION_BUILD)" && $(ANSIBLE_TEST) integration $(ANSIBLE_TEST_OPTIONS) $(TARGETS)

lint: build-tree
	cd "$(COLLECTION_BUILD)" && env NO_COLOR=1 PATH="$(VENV_BIN):$$PATH" ANSIBLE_COLLECTIONS_PATH="$(COLLECTIONS_PATH)" \
		$(VENV_BIN)/ansible-lint --profile production roles/ playbooks/
	cd "$(COLLECTION_BUILD)" && $(VENV_BIN)/antsibull-changelog lint

# What Galaxy / Automation Hub, the docsite and ansible-builder make of the release tarball.
ecosystem: build-tree
	cd "$(COLLECTION_BUILD)" && env NO_COLOR=1 PATH="$(VENV_BIN):$$PATH" tests/utils/check_ecosystem.sh .

awx-test: build-tree
	$(WITH_SIMULATOR) -- "$(VENV_PYTHON)" -m pytest -p no:cacheprovider --basetemp="$(BUILD_ROOT)/awx-test" \
		--rootdir="$(COLLECTION_BUILD)" "$(COLLECTION_BUILD)/tests/awx"

# Starts its own simulators (several EMs for the sliced audit), so it needs no with_simulator.sh.
eda-test: eda-system-deps build-tree
	"$(VENV_PYTHON)" -m pytest -p no:cacheprovider --basetemp="$(BUILD_ROOT)/eda-test" \
		--rootdir="$(COLLECTION_BUILD)" "$(COLLECTION_BUILD)/tests/eda"

docs: build-tree
	env PATH="$(VENV_BIN):$$PATH" tests/utils/build_docs.sh "$(COLLECTION_BUILD)" "$(DOCS_DIR)"

test:
	$(MAKE) --no-print-directory sanity
	$(MAKE) --no-print-directory units
	$(MAKE) --no-print-directory integration
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory ecosystem
	$(MAKE) --no-print-directory awx-test
	$(MAKE) --no-print-directory sim-test
	$(MAKE) --no-print-directory eda-test
	$(MAKE) --no-print-directory docs
	$(MAKE) --no-print-directory test-matrix MATRIX_ANSIBLE_CORE="$(filter-out $(DEV_ANSIBLE_CORE),$(MATRIX_ANSIBLE_CORE))"

# Every version runs even when an earlier one fails, so one run shows the whole picture.
test-matrix:
	@failed=""; \
	for version in $(MATRIX_ANSIBLE_CORE); do \
		for kind in sanity units; do \
			$(MAKE) --no-print-directory "matrix-$$kind-$$version" || failed="$$failed $$kind@$$version"; \
		done; \
	done; \
	if [ -n "$$failed" ]; then echo "test-matrix: failed:$$failed" >&2; exit 1; fi; \
	echo "test-matrix: sanity and units passed on ansible-core $(MATRIX_ANSIBLE_CORE)"

# Built by a pattern rule, the stamps would count as intermediate files that make deletes afterwards.
.PRECIOUS: $(MATRIX_VENVS)/%/.installed-stamp
$(MATRIX_VENVS)/%/.installed-stamp: $(MATRIX_CONSTRAINTS)
	@[ -x "$(MATRIX_VENVS)/$*/bin/python" ] || "$(PYTHON)" -m venv "$(MATRIX_VENVS)/$*"
	"$(MATRIX_VENVS)/$*/bin/python" -m pip install --disable-pip-version-check --quiet \
		-c $(MATRIX_CONSTRAINTS) "ansible-core==$*"
	"$(MATRIX_VENVS)/$*/bin/python" tests/utils/install_get_pip_standin.py
	@touch "$@"

# Sanity or units with ansible-core $*; the matrix venv's python3.11 comes first on PATH, as for ANSIBLE_TEST.
matrix-sanity-%: $(MATRIX_VENVS)/%/.installed-stamp no-sanity-ignores sanity-system-deps
	@"$(PYTHON)" tests/utils/sync_build_tree.py "$(CURDIR)" "$(call matrix_build,$*)"
	@echo "== ansible-core $*: sanity"
	cd "$(call matrix_build,$*)" && env PATH="$(MATRIX_VENVS)/$*/bin:$$PATH" \
		"$(MATRIX_VENVS)/$*/bin/ansible-test" sanity $(ANSIBLE_TEST_OPTIONS)

matrix-units-%: $(MATRIX_VENVS)/%/.installed-stamp units-system-deps
	@"$(PYTHON)" tests/utils/sync_build_tree.py "$(CURDIR)" "$(call matrix_build,$*)"
	@echo "== ansible-core $*: units"
	cd "$(call matrix_build,$*)" && env PATH="$(MATRIX_VENVS)/$*/bin:$$PATH" \
		"$(MATRIX_VENVS)/$*/bin/ansible-test" units $(ANSIBLE_TEST_OPTIONS) --venv --requirements

demo: build-tree
	$(WITH_SIMULATOR) -- env ANSIBLE_COLLECTIONS_PATH="$(COLLECTIONS_PATH)" PATH="$(VENV_BIN):$$PATH" \
		$(VENV_BIN)/ansible-playbook $(DEMO_PLAYBOOK)

# The simulator for your own playbooks, until Ctrl-C (tests/utils/sim_banner.sh prints how to reach it).
sim: build-tree
	@$(WITH_SIMULATOR) $(SIM_ARGS) -- tests/utils/sim_banner.sh "$(COLLECTIONS_PATH)"

sim-test: build-tree
	PYTHON="$(VENV_PYTHON)" tests/utils/test_make_sim.sh

bench: $(VENV_STAMP)
	"$(VENV_PYTHON)" tests/bench/run_bench.py

clean:
	@for state_dir in $(SIMULATOR_STATES); do \
		if [ -d "$$state_dir" ]; then tests/utils/simulator.sh stop "$$state_dir" || true; fi; \
	done
	rm -rf "$(VENV)" "$(BUILD_ROOT)" "$(DOCS_DIR)" tests/output $(INTEGRATION_CONFIG)
