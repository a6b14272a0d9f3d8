"""Shared by tests/test_simulator_tables.py and tests/test_simulator_behaviour.py: a small shop
configuration, its observed and future windows, the expected parquet schemas, a helper that
generates a shop and reads it back, and the module-scoped `shop` and `frames` fixtures.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from simulator import ShopConfig, generate

SMALL = ShopConfig(customers=2_000, products=200, seed=7)
OBS_END = pd.Timestamp(SMALL.end_date) + pd.Timedelta(days=1)  # first instant after observed
OBS_START = pd.Timestamp(SMALL.start_date)
FUTURE_END = OBS_END + pd.Timedelta(days=SMALL.future_days)

STR = pa.string()
TS = pa.timestamp("us")
SCHEMAS: dict[str, dict[str, pa.DataType]] = {
    "customers": {
        "customer_id": STR,
        "signup_at": TS,
        "country": STR,
        "acquisition_channel": STR,
        "first_name": STR,
        "last_name": STR,
        "email": STR,
    },
    "products": {
        "product_id": STR,
        "product_name": STR,
        "category": STR,
        "brand": STR,
        "price": pa.float64(),
        "created_at": TS,
    },
    "order_lines": {
        "order_id": STR,
        "line_number": pa.int64(),
        "customer_id": STR,
        "ordered_at": TS,
        "status": STR,
        "channel": STR,
        "currency": STR,
        "product_id": STR,
        "quantity": pa.int64(),
        "unit_price": pa.float64(),
        "discount": pa.float64(),
    },
    "web_events": {
        "event_id": pa.int64(),
        "session_id": pa.int64(),
        "customer_id": STR,
        "event_type": STR,
        "event_at": TS,
        "product_id": STR,
        "search_query": STR,
        "device": STR,
    },
    "reviews": {
        "review_id": STR,
        "customer_id": STR,
        "product_id": STR,
        "rating": pa.int64(),
        "reviewed_at": TS,
        "review_text": STR,
    },
    "campaign_sends": {
        "campaign_id": STR,
        "customer_id": STR,
        "audience": STR,
        "sent_at": TS,
        "is_control": pa.bool_(),
    },
}
TRUTH_SCHEMAS: dict[str, dict[str, pa.DataType]] = {
    "customers_truth": {
        "customer_id": STR,
        "persona": STR,
        "purchase_rate": pa.float64(),
        "dropout_probability": pa.float64(),
        "alive_at_end": pa.bool_(),
        "dropout_at": TS,
        "future_orders": pa.int64(),
        "future_spend": pa.float64(),
        "favourite_categories": STR,
        "satisfaction": pa.float64(),
    },
    "future_order_items": {
        "customer_id": STR,
        "order_id": STR,
        "ordered_at": TS,
        "product_id": STR,
        "quantity": pa.int64(),
        "unit_price": pa.float64(),
        "discount": pa.float64(),
        "status": STR,
    },
    "campaigns_truth": {
        "campaign_id": STR,
        "audience": STR,
        "sent_at": TS,
        "window_days": pa.int64(),
        "treated": pa.int64(),
        "control": pa.int64(),
        "true_conversion_uplift": pa.float64(),
        "true_revenue_uplift_per_customer": pa.float64(),
    },
}


def _run(config: ShopConfig, base: Path) -> tuple[dict[str, int], dict[str, pd.DataFrame], Path]:
    out, truth = base / "landing", base / "truth"
    counts = generate(config, out, truth, progress=False)
    frames = {name: pd.read_parquet(out / f"{name}.parquet") for name in SCHEMAS}
    frames |= {name: pd.read_parquet(truth / f"{name}.parquet") for name in TRUTH_SCHEMAS}
    # The order header and line views of the landing order lines, as the platform derives them.
    lines = frames["order_lines"]
    header = ["order_id", "customer_id", "ordered_at", "status", "channel", "currency"]
    frames["orders"] = lines[header].drop_duplicates("order_id").reset_index(drop=True)
    frames["order_items"] = lines[
        ["order_id", "line_number", "product_id", "quantity", "unit_price", "discount"]
    ]
    return counts, frames, base


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, int], dict, Path]:
    return _run(SMALL, tmp_path_factory.mktemp("shop"))


@pytest.fixture(scope="module")
def frames(shop: tuple) -> dict[str, pd.DataFrame]:
    return shop[1]
