"""Every path, schema and name the platform uses, defined once.

Everything deployment-specific comes from the config file named by SHOP_CONFIG (default
configs/synthetic.yml), so Dagster, dbt and the tests agree. DUCKDB_PATH is written to the
environment as an absolute path because dbt's profile (dbt_project/profiles.yml) reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

from landing import CANONICAL_COLUMNS, load_config

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "configs" / "synthetic.yml"

# The deployment: sources, model settings, where data lives (`make run CONFIG=...` sets SHOP_CONFIG).
CONFIG_PATH = Path(os.environ.get("SHOP_CONFIG") or DEFAULT_CONFIG).expanduser().resolve()
CONFIG = load_config(CONFIG_PATH)

DATA_DIR = CONFIG.resolve(CONFIG.data_dir)
DUCKDB_PATH = DATA_DIR / "warehouse.duckdb"
os.environ["DUCKDB_PATH"] = str(DUCKDB_PATH)  # dbt's profile reads it
MODEL_DIR = DATA_DIR / "models"
EXPORT_DIR = DATA_DIR / "exports"
REPORT_DIR = DATA_DIR / "reports"
# The synthetic shop's generated landing files and hidden truth (tests read the truth; assets never).
LANDING_DIR = CONFIG.resolve(CONFIG.synthetic.landing_dir) if CONFIG.synthetic else None
TRUTH_DIR = CONFIG.resolve(CONFIG.synthetic.truth_dir) if CONFIG.synthetic else None

STATE_DIR = REPO_ROOT / ".state" / CONFIG.name
DAGSTER_HOME = Path(os.environ.get("DAGSTER_HOME") or STATE_DIR / "dagster").resolve()

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

# Every step that opens the DuckDB file claims a slot in this pool; the instance allows one slot,
# so a scheduled run, a UI launch and `make run` never collide on DuckDB's single-writer lock.
DUCKDB_POOL = "duckdb"

RAW_SCHEMA = "raw"
SCORES_SCHEMA = "scores"
SOURCE_TABLES = tuple(CANONICAL_COLUMNS)  # raw tables; each exists, empty if not configured

# Scored tables written by Python assets (customer_360 is a dbt model in the same schema).
SEGMENTS_TABLE = "customer_segments"
CHURN_TABLE = "churn_scores"
RECOMMENDATIONS_TABLE = "recommendations"
VALUE_TABLE = "customer_value"
MODEL_RUNS_TABLE = "model_runs"  # every training run and its promotion decision
# dbt models in the same schema, built after the scores.
CUSTOMER_360_TABLE = "customer_360"
SEGMENT_PROFILES_TABLE = "segment_profiles"
SCORED_TABLES = (
    SEGMENTS_TABLE,
    CHURN_TABLE,
    RECOMMENDATIONS_TABLE,
    VALUE_TABLE,
    CUSTOMER_360_TABLE,
    SEGMENT_PROFILES_TABLE,
)
# Their columns when a model is skipped (not enough data): the table exists, empty, same contract.
SKIPPED_SCORE_COLUMNS = {
    SEGMENTS_TABLE: "customer_id varchar, segment varchar, cluster_id bigint, "
    "rfm_recency bigint, rfm_frequency bigint, rfm_monetary bigint, rfm_segment varchar, "
    "as_of_date date",
    CHURN_TABLE: "customer_id varchar, churn_probability double, risk_tier varchar, "
    "recency_days bigint, as_of_date date, reason_1 varchar, reason_2 varchar, reason_3 varchar",
    RECOMMENDATIONS_TABLE: "customer_id varchar, rank bigint, product_id varchar, score double, "
    "model varchar",
    VALUE_TABLE: "customer_id varchar, p_alive double, expected_orders double, "
    "expected_revenue double, expected_next_order_date date, horizon_days bigint, "
    "as_of_date date",
}

REFRESH_JOB = "refresh_all"
REFRESH_CRON = os.environ.get("REFRESH_CRON", "0 5 * * *")  # daily, 05:00
REFRESH_TIMEZONE = os.environ.get("REFRESH_TIMEZONE", "UTC")

N_RECOMMENDATIONS = CONFIG.models.n_recommendations
CLV_HORIZON_DAYS = CONFIG.models.clv_horizon_days
RECOMMEND_ALREADY_BOUGHT = CONFIG.models.recommend_already_bought
