"""Test session set-up: a private warehouse, landing folder and Dagster instance in a temp dir.

The environment is set before anything imports orchestration.settings, so every asset, dbt and
the checks use the temporary warehouse. The whole graph is materialized once per session on a
small generated shop; the tests then read what it produced, and the generator's hidden truth.
"""

import os
import tempfile
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="shop-analytics-tests-"))
os.environ["DUCKDB_PATH"] = str(_SESSION_DIR / "warehouse.duckdb")
os.environ["DAGSTER_HOME"] = str(_SESSION_DIR / "dagster")
os.environ.pop("LANDING_DIR", None)
os.environ.pop("TRUTH_DIR", None)

TEST_SHOP_CUSTOMERS = 4000
TEST_SHOP_PRODUCTS = 300


@pytest.fixture(scope="session")
def landing():
    """A small generated shop in the session's landing folder (truth beside it)."""
    from ml.synthetic import ShopConfig, generate
    from orchestration.settings import LANDING_DIR, TRUTH_DIR

    generate(
        ShopConfig(customers=TEST_SHOP_CUSTOMERS, products=TEST_SHOP_PRODUCTS, seed=7),
        LANDING_DIR,
        TRUTH_DIR,
        progress=False,
    )
    return LANDING_DIR


@pytest.fixture(scope="session")
def pipeline_run(landing):
    """Materialize every asset through Dagster on the small shop, once per session."""
    from dagster import DagsterInstance

    from orchestration.definitions import defs
    from orchestration.instance import ensure_instance
    from orchestration.settings import REFRESH_JOB

    ensure_instance()
    instance = DagsterInstance.get()
    result = defs.resolve_job_def(REFRESH_JOB).execute_in_process(
        instance=instance, raise_on_error=False
    )
    return result


@pytest.fixture(scope="session")
def warehouse(pipeline_run):
    import duckdb

    from orchestration.settings import DUCKDB_PATH

    conn = duckdb.connect(str(DUCKDB_PATH), read_only=True)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def truth(pipeline_run):
    import pandas as pd

    from orchestration.settings import TRUTH_DIR

    return pd.read_parquet(TRUTH_DIR / "customers_truth.parquet")
