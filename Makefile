# Two commands do everything on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
MANIFEST := dbt_project/target/manifest.json
# Files and folders (a folder changes when a model is added or removed).
DBT_SOURCES := $(shell find dbt_project/models dbt_project/macros dbt_project/seeds dbt_project/tests dbt_project/dbt_project.yml dbt_project/profiles.yml 2>/dev/null)

# The deployment config: `make run CONFIG=configs/online_retail_ii.yml` (default: the synthetic shop).
CONFIG ?= configs/synthetic.yml
export SHOP_CONFIG := $(abspath $(CONFIG))

.PHONY: setup browser run report erase test ui lint format benchmark gallery clean

setup: $(INSTALLED) $(MANIFEST)

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# dagster-dbt loads the manifest at import; `dbt parse` makes it without opening the warehouse.
$(MANIFEST): $(INSTALLED) $(DBT_SOURCES)
	cd dbt_project && ../$(BIN)/dbt parse --profiles-dir . --quiet
	touch $@

run: setup
	$(BIN)/python -m orchestration.cli run $(if $(DAYS),--days $(DAYS)) $(if $(RETRAIN),--retrain)

# The marketing report (data_dir/reports/marketing_report.html) from the current warehouse: only
# that asset is materialized, through Dagster; prints the file's path.
report: setup
	$(BIN)/python -m orchestration.cli report

# `make erase CUSTOMER=<id>`: the customer leaves every table, the quarantine, the exports and the
# model files (retrained), and their id, pseudonymized, goes on the erasure list every later load
# applies (job erase_customer, also in the UI).
erase: setup
	@test -n '$(subst ','\'',$(CUSTOMER))' || { echo "usage: make erase CUSTOMER=<customer id>" >&2; exit 2; }
	$(BIN)/python -m orchestration.cli erase --customer '$(subst ','\'',$(CUSTOMER))'

# CI runs only `make test`, so it lints first. One worker per core, a test module at a time on
# one worker (`make test WORKERS=0` runs it in one process; tests/conftest.py).
WORKERS ?= auto
test: setup browser lint
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder

# The UI test drives Debian's chromium (Playwright's own browser download is not used).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium is not installed (needs root): the browser test will be skipped"; fi

ui: setup
	$(BIN)/python -m orchestration.cli ui

# `make benchmark SIZE=30k|300k|1m` (or any customer count, SIZE=3000): two full refreshes and a
# one-day refresh on a fresh shop of that size; prints the table, saves benchmarks/<size>.json.
# `make benchmark LINES=2GB [LINES_MEMORY=8GB]`: exact line numbers on a generated CSV of that
# size with 1% bad lines; saves benchmarks/lines-<size>.json. `make benchmark FRESH=1`: the first
# `make run` on a fresh clone, install included; saves benchmarks/fresh-clone.json.
benchmark: setup
	$(BIN)/python -m orchestration.benchmark $(if $(FRESH),--fresh-clone,$(if $(LINES),--lines $(LINES) $(if $(LINES_MEMORY),--lines-memory-limit $(LINES_MEMORY)),$(if $(SIZE),--size $(SIZE))))

# The whole pipeline on each of the simulator's archetypes (small shops unlike the default one);
# prints what each model did on each. `make gallery NAMES="tiny long_past"` runs some.
gallery: setup
	$(BIN)/python -m orchestration.gallery $(NAMES)

# Python (ruff), SQL (sqlfluff with the dbt templater, config .sqlfluff) and the dbt project's
# conventions (dbt-score on the manifest, config dbt_project/pyproject.toml: every model and seed
# documented, every model tested, stg_ / int_ names by layer). sqlfluff compiles against an
# in-memory DuckDB, so lint never opens the warehouse.
lint: $(INSTALLED) $(MANIFEST)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DUCKDB_PATH=:memory: $(BIN)/sqlfluff lint dbt_project/models dbt_project/macros --processes 2
	cd dbt_project && ../$(BIN)/dbt-score lint --manifest target/manifest.json

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf .state data dbt_project/target dbt_project/logs
