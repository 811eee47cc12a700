# Beacon: every command a person or CI needs. Nothing to install by hand first.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAGE  ?= dev
BUILD   = build/$(STAGE)
STAMP   = $(VENV)/.installed

.PHONY: run demo test test-unit bench package deploy lint check-site outbox catalogue system-deps clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Beacon needs Python 3.11 or newer: set PYTHON=python3.12")'
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

## make run: the whole stack on this machine (emulator, API, scheduler, page, outbox)
run: $(STAMP)
	$(BIN)/python -m tools.local

## make demo: the guided tour of an outage, narrated, on the stack `make run` started in another terminal
demo: $(STAMP)
	$(BIN)/python -m tools.local.tour

## make test: unit, emulator and browser tests
test: $(STAMP) system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

## make bench: performance figures, side by side with their baselines
bench: $(STAMP)
	$(BIN)/python -m bench

## make package STAGE=dev|prod: the deployable template and zip, checked by cfn-lint
package: $(STAMP) check-site
	rm -rf $(BUILD)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/chalice package --stage $(STAGE) \
		--merge-template infra/resources.json $(BUILD)
	$(BIN)/python -m tools.package $(BUILD)/deployment.zip
	$(BIN)/cfn-lint $(BUILD)/sam.json
	@echo "packaged: $(BUILD)/sam.json and $(BUILD)/deployment.zip"

## make deploy STAGE=dev|prod ARTIFACTS_BUCKET=...: package, deploy the stack, publish the page
deploy: package
	$(BIN)/python infra/deploy.py --stage $(STAGE) \
		--artifacts-bucket $${ARTIFACTS_BUCKET:?set ARTIFACTS_BUCKET to an S3 bucket for deployment artefacts} $(DEPLOY_ARGS)

lint: package

## make catalogue: extract Beacon's own words (babel.cfg) and merge them into each language's .po, to translate
catalogue: $(STAMP)
	$(BIN)/pybabel extract --mapping-file babel.cfg --sort-by-file \
		--keywords N_:1,1t --keywords N_:1,2,2t --keywords gettext:1,1t --keywords gettext:2,2t \
		--keywords ngettext:1,2,3t --keywords ngettext:2,3,4t \
		--project Beacon --no-wrap --output-file chalicelib/locales/messages.pot .
	$(BIN)/pybabel update --input-file chalicelib/locales/messages.pot --output-dir chalicelib/locales \
		--ignore-obsolete --no-fuzzy-matching --no-wrap

check-site: $(STAMP)
	$(BIN)/beacon check-site $${SITE_CONFIG:-site.yml}

outbox: $(STAMP)
	$(BIN)/beacon outbox

# System packages the browser tests need (Debian's Chromium); installed when missing and root.
system-deps:
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

clean:
	rm -rf $(VENV) build .pytest_cache test-artifacts
