"""Test session set-up: a private warehouse, landing folder and Dagster instance in a temp dir.

The environment is set before anything imports orchestration.settings, so every asset, dbt and
the checks use the temporary warehouse. The whole graph is materialized once per session on a
small generated shop; the tests then read what it produced, and the generator's hidden truth.
"""

import os
import tempfile
from pathlib import Path

import pytest
import yaml

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="shop-analytics-tests-"))
TEST_SHOP_CUSTOMERS = 4000
TEST_SHOP_PRODUCTS = 300
# The shipped synthetic config with the session's folders and a smaller shop.
_config = yaml.safe_load((Path(__file__).parent.parent / "configs" / "synthetic.yml").read_text())
_config["data_dir"] = str(_SESSION_DIR)
_config["synthetic"].update(
    customers=TEST_SHOP_CUSTOMERS,
    products=TEST_SHOP_PRODUCTS,
    seed=7,
    landing_dir=str(_SESSION_DIR / "landing"),
    truth_dir=str(_SESSION_DIR / "truth"),
)
for _table, _source in _config["sources"].items():
    _source["path"] = str(_SESSION_DIR / "landing" / f"{_table}.parquet")
SESSION_CONFIG = _SESSION_DIR / "config.yml"
SESSION_CONFIG.write_text(yaml.safe_dump(_config, sort_keys=False))
os.environ["SHOP_CONFIG"] = str(SESSION_CONFIG)
os.environ["DAGSTER_HOME"] = str(_SESSION_DIR / "dagster")
for _variable in ("DUCKDB_PATH", "LANDING_DIR", "TRUTH_DIR"):
    os.environ.pop(_variable, None)


@pytest.fixture(scope="session")
def landing():
    """A small generated shop in the session's landing folder (truth beside it)."""
    from orchestration.settings import get_settings
    from simulator import ShopConfig, generate

    settings = get_settings()
    generate(
        ShopConfig(customers=TEST_SHOP_CUSTOMERS, products=TEST_SHOP_PRODUCTS, seed=7),
        settings.landing_dir,
        settings.truth_dir,
        progress=False,
    )
    return settings.landing_dir


@pytest.fixture(scope="session")
def pipeline_run(landing):
    """Materialize every asset through Dagster on the small shop, once per session."""
    from dagster import DagsterInstance

    from orchestration.definitions import defs
    from orchestration.defs.partitions import all_days_tags
    from orchestration.instance import ensure_instance
    from orchestration.settings import REFRESH_JOB, get_settings

    ensure_instance()
    instance = DagsterInstance.get()
    job = defs().resolve_job_def(REFRESH_JOB)
    return job.execute_in_process(
        instance=instance, raise_on_error=False, tags=all_days_tags(get_settings().config)
    )


@pytest.fixture(scope="session")
def warehouse(pipeline_run):
    import duckdb

    from orchestration.settings import get_settings

    conn = duckdb.connect(str(get_settings().duckdb_path), read_only=True)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def truth(pipeline_run):
    import pandas as pd

    from orchestration.settings import get_settings

    return pd.read_parquet(get_settings().truth_dir / "customers_truth.parquet")


def config_with_data_dir(data_dir: Path) -> Path:
    """The session's config (same landing files) with its own warehouse folder, for tests that
    run the platform in a subprocess; returns the new config file's path."""
    config = yaml.safe_load(SESSION_CONFIG.read_text())
    config["data_dir"] = str(data_dir)
    path = Path(data_dir) / "config.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
