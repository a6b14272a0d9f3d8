"""The benchmark's pandas side: every feature of `marts.customer_feature_snapshots`, computed the
straightforward pandas way (per snapshot date: filter what the snapshot sees, group by
customer), from the tables the dbt model reads, and compared with the model value by value.

`make benchmark` times it beside the dbt models (orchestration/benchmark.py, "side by side"); the
test suite runs it on the session's warehouse, so the feature definitions are written twice and a
change to one that the other does not share fails a test.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

# The model's key columns; every other column of the model is a feature pandas must compute.
KEY_COLUMNS = ("customer_id", "as_of_date", "snapshot_index")
# How close a pandas value must be to dbt's (relative and absolute).
TOLERANCE = 1e-6
# The browsing counts summed over each window of days up to a snapshot's date (`<column>_<days>d`),
# and the windows with a conversion rate (purchase sessions over sessions).
BROWSING = ("sessions", "product_views", "searches", "add_to_carts")
BROWSING_WINDOWS = {30: BROWSING, 90: BROWSING, 365: ("sessions",)}
CONVERSION_WINDOWS = (30, 90)


def category_slug(name: str) -> str:
    """A category's column suffix, as the dbt macro product_categories makes it."""
    return re.sub("[^a-z0-9]+", "_", name.lower()).strip("_")


def pandas_features(warehouse: Path) -> dict[str, Any]:
    """Every feature for every snapshot date in pandas: the seconds to read the inputs from
    DuckDB and to compute (apart), and the values that differ from marts.customer_feature_snapshots
    (none when the two definitions agree)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        started = time.perf_counter()
        frames = read_inputs(conn)
        read_seconds = time.perf_counter() - started

        started = time.perf_counter()
        features = compute_features(**frames)
        compute_seconds = time.perf_counter() - started

        dbt_rows = conn.execute("select * from marts.customer_feature_snapshots").df()
    names = [column for column in dbt_rows.columns if column not in KEY_COLUMNS]
    return {
        "read_seconds": round(read_seconds, 3),
        "compute_seconds": round(compute_seconds, 3),
        "rows": len(features),
        "features": names,
        "mismatched_values": compare_features(features, dbt_rows.drop(columns="snapshot_index")),
    }


def read_inputs(conn: Any) -> dict[str, Any]:
    """The columns the features need, as data frames."""

    def frame(sql: str) -> Any:
        return conn.execute(sql).df()

    return {
        "orders": frame(
            "select customer_id, ordered_at, is_purchase, is_revenue, is_cancelled, is_returned, "
            "net_amount, gross_amount, discount_amount, n_units from marts.fct_orders"
        ),
        "items": frame(
            "select customer_id, ordered_at, is_purchase, is_revenue, product_id, category, "
            "unit_price, net_amount from marts.fct_order_items"
        ),
        "activity": frame(
            "select customer_id, activity_date, sessions, product_views, searches, add_to_carts, "
            "purchase_sessions from intermediate.int_customer_daily_activity"
        ),
        "reviews": frame(
            "select customer_id, reviewed_at, review_date, rating from staging.stg_shop__reviews"
        ),
        "customers": frame(
            "select customer_id, signup_at, signup_date from intermediate.int_customers"
        ),
        "categories": [
            row[0]
            for row in conn.execute(
                "select distinct category from intermediate.int_products "
                "where category is not null order by 1"
            ).fetchall()
        ],
        "snapshots": frame(
            "select as_of_date, cutoff_at from intermediate.int_as_of_dates order by as_of_date"
        ),
    }


def compute_features(
    orders: Any,
    items: Any,
    activity: Any,
    reviews: Any,
    customers: Any,
    categories: list[str],
    snapshots: Any,
) -> Any:
    """customer_feature_snapshots in pandas: one row per customer signed up before a snapshot's
    cutoff, per snapshot."""
    import pandas as pd

    for table, column in ((orders, "ordered_at"), (items, "ordered_at"), (reviews, "reviewed_at")):
        table[column] = pd.to_datetime(table[column])
    orders["order_day"] = orders["ordered_at"].dt.normalize()
    activity["activity_date"] = pd.to_datetime(activity["activity_date"])
    reviews["review_date"] = pd.to_datetime(reviews["review_date"])
    customers["signup_at"] = pd.to_datetime(customers["signup_at"])
    customers["signup_day"] = pd.to_datetime(customers["signup_date"])
    for column in ("net_amount", "gross_amount", "discount_amount", "n_units"):
        orders[column] = orders[column].astype("float64")
    for column in ("unit_price", "net_amount"):
        items[column] = items[column].astype("float64")

    frames = []
    for snapshot in snapshots.itertuples(index=False):
        as_of = pd.Timestamp(snapshot.as_of_date)
        cutoff = pd.Timestamp(snapshot.cutoff_at)
        frame = customers.loc[customers["signup_at"] < cutoff, ["customer_id", "signup_day"]]
        for stats in (
            _order_stats(orders, cutoff),
            _line_stats(items, cutoff, categories),
            _activity_stats(activity, as_of),
            _review_stats(reviews, cutoff),
        ):
            frame = frame.merge(stats, left_on="customer_id", right_index=True, how="left")
        frame["as_of_date"] = as_of
        frames.append(_derived(frame, as_of, categories))
    return pd.concat(frames, ignore_index=True)


def _order_stats(orders: Any, cutoff: Any) -> Any:
    import pandas as pd

    seen = orders[orders["ordered_at"] < cutoff]
    purchase = seen[seen["is_purchase"]]
    revenue = seen[seen["is_revenue"]]
    days_90 = cutoff - pd.Timedelta(days=90)
    days_365 = cutoff - pd.Timedelta(days=365)
    return pd.DataFrame(
        {
            "orders_placed": seen.groupby("customer_id").size(),
            "cancelled_orders": seen[seen["is_cancelled"]].groupby("customer_id").size(),
            "frequency": purchase.groupby("customer_id").size(),
            "returned_orders": seen[seen["is_returned"]].groupby("customer_id").size(),
            "completed_orders": revenue.groupby("customer_id").size(),
            "first_day": purchase.groupby("customer_id")["order_day"].min(),
            "last_day": purchase.groupby("customer_id")["order_day"].max(),
            "monetary": revenue.groupby("customer_id")["net_amount"].sum(),
            "gross_amount": purchase.groupby("customer_id")["gross_amount"].sum(),
            "discount_amount": purchase.groupby("customer_id")["discount_amount"].sum(),
            "units": purchase.groupby("customer_id")["n_units"].sum(),
            "orders_90d": purchase[purchase["ordered_at"] >= days_90].groupby("customer_id").size(),
            "orders_365d": purchase[purchase["ordered_at"] >= days_365]
            .groupby("customer_id")
            .size(),
            "revenue_90d": revenue[revenue["ordered_at"] >= days_90]
            .groupby("customer_id")["net_amount"]
            .sum(),
        }
    )


def _line_stats(items: Any, cutoff: Any, categories: list[str]) -> Any:
    import pandas as pd

    bought = items[items["is_purchase"] & (items["ordered_at"] < cutoff)]
    by_customer = bought.groupby("customer_id")
    revenue = bought[bought["is_revenue"]]
    spend = revenue.pivot_table(
        index="customer_id", columns="category", values="net_amount", aggfunc="sum"
    )
    total = revenue.groupby("customer_id")["net_amount"].sum()
    stats = pd.DataFrame(
        {
            "distinct_products": by_customer["product_id"].nunique(),
            "distinct_categories": by_customer["category"].nunique(),
            "avg_unit_price": by_customer["unit_price"].mean(),
        }
    )
    for name in categories:
        share = spend[name] / total.replace(0, float("nan")) if name in spend else 0.0
        stats[f"spend_share_{category_slug(name)}"] = share
    return stats


def _activity_stats(activity: Any, as_of: Any) -> Any:
    import pandas as pd

    seen = activity[activity["activity_date"] <= as_of]
    stats = pd.DataFrame({"last_session_date": seen.groupby("customer_id")["activity_date"].max()})
    for days, columns in BROWSING_WINDOWS.items():
        summed = [*columns, "purchase_sessions"]
        recent = seen[seen["activity_date"] > as_of - pd.Timedelta(days=days)]
        sums = recent.groupby("customer_id")[summed].sum()
        for column in summed:
            stats[f"{column}_{days}d"] = sums[column]
    return stats


def _review_stats(reviews: Any, cutoff: Any) -> Any:
    import pandas as pd

    seen = reviews[reviews["reviewed_at"] < cutoff]
    by_customer = seen.assign(low=seen["rating"] <= 2).groupby("customer_id")
    return pd.DataFrame(
        {
            "review_count": by_customer.size(),
            "mean_rating": by_customer["rating"].mean(),
            "low_rating_share": by_customer["low"].mean(),
            "last_review_date": by_customer["review_date"].max(),
        }
    )


def _derived(frame: Any, as_of: Any, categories: list[str]) -> Any:
    """The model's final select: ratios, day differences and zeros for what was not seen."""
    import numpy as np

    def days_since(column: str) -> Any:
        return (as_of - frame[column]).dt.days

    def ratio(numerator: Any, denominator: Any) -> Any:
        return numerator / denominator.replace(0, np.nan)

    frequency = frame["frequency"].fillna(0)
    out = frame[["customer_id", "as_of_date"]].copy()
    out["tenure_days"] = days_since("signup_day")
    out["recency_days"] = days_since("last_day")
    out["days_since_first_order"] = days_since("first_day")
    out["frequency"] = frequency
    out["orders_per_year"] = frequency * 365.0 / out["tenure_days"].clip(lower=30)
    out["monetary"] = frame["monetary"].fillna(0)
    # Customers without any order before the cutoff: NaN, as dbt's left join gives NULL.
    out["avg_order_value"] = ratio(out["monetary"], frame["completed_orders"])
    gap = (frame["last_day"] - frame["first_day"]).dt.days / (frequency - 1.0)
    repeat = frequency > 1
    out["mean_days_between_orders"] = gap.where(repeat)
    out["recency_to_rhythm"] = (out["recency_days"] / (gap + 1.0)).where(repeat)
    out["recency_to_age"] = ratio(out["recency_days"], out["days_since_first_order"])
    for column in ("orders_90d", "orders_365d", "revenue_90d"):
        out[column] = frame[column].fillna(0)
    out["cancel_rate"] = ratio(frame["cancelled_orders"].fillna(0), frame["orders_placed"]).fillna(
        0
    )
    out["return_rate"] = ratio(frame["returned_orders"].fillna(0), frequency).fillna(0)
    out["discount_share"] = ratio(frame["discount_amount"], frame["gross_amount"]).fillna(0)
    out["avg_units_per_order"] = ratio(frame["units"].fillna(0), frequency)
    out["avg_unit_price"] = frame["avg_unit_price"]
    for column in ("distinct_products", "distinct_categories"):
        out[column] = frame[column].fillna(0)
    out["days_since_last_session"] = days_since("last_session_date")
    for days, columns in BROWSING_WINDOWS.items():
        for column in columns:
            out[f"{column}_{days}d"] = frame[f"{column}_{days}d"].fillna(0)
    for days in CONVERSION_WINDOWS:
        out[f"conversion_rate_{days}d"] = ratio(
            frame[f"purchase_sessions_{days}d"], frame[f"sessions_{days}d"]
        ).fillna(0)
    out["review_count"] = frame["review_count"].fillna(0)
    out["mean_rating"] = frame["mean_rating"]
    out["low_rating_share"] = frame["low_rating_share"]
    out["days_since_last_review"] = days_since("last_review_date")
    for name in categories:
        column = f"spend_share_{category_slug(name)}"
        out[column] = frame[column].fillna(0)
    return out


def compare_features(features: Any, dbt_rows: Any) -> dict[str, int]:
    """Per feature, how many (customer, snapshot) values pandas and dbt disagree on; missing rows
    on either side count under "rows", and a model column pandas does not compute counts every
    row."""
    import numpy as np
    import pandas as pd

    dbt_rows = dbt_rows.assign(as_of_date=pd.to_datetime(dbt_rows["as_of_date"]))
    joined = features.merge(
        dbt_rows,
        on=["customer_id", "as_of_date"],
        how="outer",
        suffixes=("", "_dbt"),
        indicator=True,
    )
    mismatches = {"rows": int((joined["_merge"] != "both").sum())}
    both = joined[joined["_merge"] == "both"]
    for column in dbt_rows.columns:
        if column in ("customer_id", "as_of_date"):
            continue
        if column not in features.columns:
            mismatches[f"{column} (not computed)"] = len(both)
            continue
        ours = both[column].astype("float64").to_numpy()
        theirs = both[f"{column}_dbt"].astype("float64").to_numpy()
        close = np.isclose(ours, theirs, rtol=TOLERANCE, atol=TOLERANCE, equal_nan=True)
        mismatches[column] = int((~close).sum())
    return {name: count for name, count in mismatches.items() if count}
