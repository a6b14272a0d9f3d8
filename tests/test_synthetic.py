"""Tests of the synthetic shop generator (simulator)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator import CATEGORIES, PERSONAS, ShopConfig, generate

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


@pytest.fixture(scope="module")
def orders_p(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Observed orders with the hidden persona attached."""
    truth = frames["customers_truth"][["customer_id", "persona"]]
    return frames["orders"].merge(truth, on="customer_id", validate="many_to_one")


def test_files_counts_and_meta(shop: tuple) -> None:
    counts, frames, base = shop
    for name in SCHEMAS:
        assert (base / "landing" / f"{name}.parquet").is_file()
    for name in TRUTH_SCHEMAS:
        assert (base / "truth" / f"{name}.parquet").is_file()
        assert not (base / "landing" / f"{name}.parquet").exists()
    assert counts == {name: len(frames[name]) for name in counts}
    meta = json.loads((base / "truth" / "meta.json").read_text())
    assert meta["seed"] == SMALL.seed
    assert meta["customers"] == SMALL.customers
    assert meta["products"] == SMALL.products
    assert meta["end_date"] == SMALL.end_date.isoformat()
    assert meta["history_days"] == SMALL.history_days
    assert meta["future_days"] == SMALL.future_days
    assert meta["generated_at_version"] == 1
    assert meta["row_counts"] == counts
    assert counts["customers"] == SMALL.customers
    assert counts["products"] == SMALL.products
    # ~100k-200k orders per 30k customers -> several orders per customer
    assert 2.5 < len(frames["orders"]) / SMALL.customers < 8
    assert counts["order_lines"] > len(frames["orders"])
    assert 50 < counts["web_events"] / SMALL.customers < 150


def test_schemas(shop: tuple) -> None:
    base = shop[2]
    for folder, schemas in (("landing", SCHEMAS), ("truth", TRUTH_SCHEMAS)):
        for name, expected in schemas.items():
            schema = pq.read_schema(base / folder / f"{name}.parquet")
            assert schema.names == list(expected), name
            for col, typ in expected.items():
                assert schema.field(col).type == typ, (name, col, schema.field(col).type)


def test_value_domains(frames: dict[str, pd.DataFrame]) -> None:
    c, p, o = frames["customers"], frames["products"], frames["orders"]
    ev, truth = frames["web_events"], frames["customers_truth"]
    assert c.customer_id.is_unique and c.customer_id.str.fullmatch(r"CUST-\d{6}").all()
    assert p.product_id.is_unique and p.product_id.str.fullmatch(r"PROD-\d{5}").all()
    assert o.order_id.is_unique and o.order_id.str.fullmatch(r"ORD-\d{7}").all()
    assert ev.event_id.is_unique
    assert c.country.str.fullmatch(r"[A-Z]{2}").all() and c.country.nunique() >= 8
    assert {"US", "GB"} <= set(c.country)
    assert set(c.acquisition_channel) == {
        "organic",
        "paid_search",
        "social",
        "email",
        "referral",
        "affiliate",
    }
    assert c.email.is_unique
    assert (c.email == c.email.str.lower()).all()
    assert c.email.str.fullmatch(r"[a-z]+\.[a-z]+\.\d+@example\.com").all()
    assert set(p.category) <= set(CATEGORIES) and p.category.nunique() == len(CATEGORIES)
    assert (p.groupby("brand").category.nunique() <= 2).all()
    assert 20 <= p.brand.nunique() <= 40
    assert (p.price > 0).all() and np.allclose(p.price, p.price.round(2))
    median_price = p.groupby("category").price.median()
    assert median_price["Electronics"] > median_price["Grocery"] * 5
    assert set(o.status) == {"completed", "cancelled", "returned"}
    status = o.status.value_counts(normalize=True)
    assert 0.02 < status["cancelled"] < 0.07 and 0.03 < status["returned"] < 0.10
    assert set(o.channel) == {"web", "app", "marketplace"} and set(o.currency) == {"EUR"}
    assert set(ev.event_type) == {"page_view", "search", "product_view", "add_to_cart", "purchase"}
    assert set(ev.device) == {"desktop", "mobile", "tablet"}
    with_product = ev.event_type.isin(["product_view", "add_to_cart", "purchase"])
    assert (ev.product_id.notna() == with_product).all()
    assert (ev.search_query.notna() == (ev.event_type == "search")).all()
    assert set(truth.persona) == set(PERSONAS)
    fav = truth.favourite_categories.str.split(",")
    assert (fav.str.len() == 3).all()
    assert set(fav.explode()) <= set(CATEGORIES)


def test_items_amounts(frames: dict[str, pd.DataFrame]) -> None:
    for name in ("order_items", "future_order_items"):
        it = frames[name]
        assert (it.quantity >= 1).all()
        assert (it.discount >= 0).all()
        assert (it.discount <= it.quantity * it.unit_price + 1e-9).all()
        assert np.allclose(it.discount, it.discount.round(2))
        assert np.allclose(it.unit_price, it.unit_price.round(2))
    it, p = frames["order_items"], frames["products"]
    price = it.merge(p[["product_id", "price"]], on="product_id").eval("unit_price - price")
    assert np.allclose(price, 0)
    lines = it.groupby("order_id").line_number.agg(["min", "max", "size"])
    assert (lines["min"] == 1).all() and (lines["max"] == lines["size"]).all()
    assert not it.duplicated(["order_id", "product_id"]).any()


def test_referential_integrity_and_time(frames: dict[str, pd.DataFrame]) -> None:
    c, p, o, it = frames["customers"], frames["products"], frames["orders"], frames["order_items"]
    ev = frames["web_events"]
    assert o.customer_id.isin(c.customer_id).all()
    assert it.order_id.isin(o.order_id).all() and o.order_id.isin(it.order_id).all()
    assert it.product_id.isin(p.product_id).all()
    assert ev.customer_id.dropna().isin(c.customer_id).all()
    assert ev.product_id.dropna().isin(p.product_id).all()
    # no order before signup, no product bought before it exists
    oc = o.merge(c[["customer_id", "signup_at"]], on="customer_id")
    assert (oc.ordered_at >= oc.signup_at).all()
    ip = it.merge(o[["order_id", "ordered_at"]], on="order_id").merge(p, on="product_id")
    assert (ip.ordered_at >= ip.created_at).all()
    ec = ev.dropna(subset=["customer_id"]).merge(c[["customer_id", "signup_at"]], on="customer_id")
    assert (ec.event_at >= ec.signup_at).all()
    # observed window only
    for df, col in (
        (c, "signup_at"),
        (p, "created_at"),
        (o, "ordered_at"),
        (ev, "event_at"),
    ):
        assert df[col].min() >= OBS_START, col
        assert df[col].max() < OBS_END, col
    # one purchase event per observed order line, at the order time
    purchases = ev[ev.event_type == "purchase"]
    assert len(purchases) == len(it)
    assert set(purchases.customer_id) == set(o.customer_id)
    # customers sign up throughout the period, with growth
    signup_year = (c.signup_at - OBS_START).dt.days // 365
    assert (c.signup_at > OBS_START + pd.Timedelta(days=600)).sum() > 100
    assert (signup_year == 1).sum() > (signup_year == 0).sum() * 0.6


def test_future_truth(frames: dict[str, pd.DataFrame]) -> None:
    fut, truth, o = frames["future_order_items"], frames["customers_truth"], frames["orders"]
    assert len(fut) > 0
    assert (fut.ordered_at >= OBS_END).all() and (fut.ordered_at < FUTURE_END).all()
    assert not fut.order_id.isin(o.order_id).any()
    assert fut.customer_id.isin(truth.customer_id).all()
    assert truth.customer_id.tolist() == frames["customers"].customer_id.tolist()
    fut_orders = fut.drop_duplicates("order_id")
    expected_n = fut_orders[fut_orders.status != "cancelled"].groupby("customer_id").size()
    got_n = truth.set_index("customer_id").future_orders
    assert (got_n.reindex(expected_n.index) == expected_n).all()
    assert got_n.sum() == expected_n.sum()
    done = fut[fut.status == "completed"]
    spend = (done.quantity * done.unit_price - done.discount).groupby(done.customer_id).sum()
    got_spend = truth.set_index("customer_id").future_spend
    assert np.allclose(got_spend.reindex(spend.index), spend, atol=0.011)
    assert np.isclose(got_spend.sum(), spend.sum(), atol=1.0)
    assert (truth.purchase_rate > 0).all()
    assert truth.dropout_probability.between(0, 1).all()


def test_dropout(frames: dict[str, pd.DataFrame]) -> None:
    truth, o, fut = frames["customers_truth"], frames["orders"], frames["future_order_items"]
    dead_share = 1 - truth.alive_at_end.mean()
    assert 0.2 <= dead_share <= 0.7
    # alive_at_end <=> no dropout up to end_date
    dropped_by_end = truth.dropout_at.notna() & (truth.dropout_at < OBS_END)
    assert (truth.alive_at_end == ~dropped_by_end).all()
    all_orders = pd.concat(
        [o[["customer_id", "ordered_at"]], fut[["customer_id", "ordered_at"]].drop_duplicates()]
    )
    last = all_orders.groupby("customer_id").ordered_at.max()
    t = truth.set_index("customer_id").join(last.rename("last_order"))
    dead = t[~t.alive_at_end]
    assert len(dead) > 0
    assert (dead.last_order <= dead.dropout_at).all()  # no orders after dropout
    has_drop = t[t.dropout_at.notna()]
    assert (has_drop.last_order == has_drop.dropout_at).all()  # dropout = last transaction
    # dropout is driven by the dropout probability
    high_p = truth.dropout_probability > truth.dropout_probability.median()
    assert truth[high_p].alive_at_end.mean() < truth[~high_p].alive_at_end.mean()
    # recent browsing is informative of being alive
    ev = frames["web_events"]
    last_ev = ev.dropna(subset=["customer_id"]).groupby("customer_id").event_at.max()
    recent = (OBS_END - last_ev) < pd.Timedelta(days=30)
    alive = truth.set_index("customer_id").alive_at_end
    assert alive[recent[recent].index].mean() > alive[recent[~recent].index].mean() + 0.3


def test_anonymous_sessions(frames: dict[str, pd.DataFrame]) -> None:
    ev = frames["web_events"].assign(anon=lambda df: df.customer_id.isna())
    sessions = ev.groupby("session_id").agg(
        customers=("customer_id", "nunique"),
        anon=("anon", "all"),
        n=("event_id", "size"),
        first=("event_at", "min"),
        last=("event_at", "max"),
    )
    sessions["span"] = sessions["last"] - sessions["first"]
    assert 0.15 <= sessions.anon.mean() <= 0.25
    assert (sessions.customers <= 1).all()
    assert ((sessions.customers == 1) | sessions.anon).all()  # never mixed within a session
    assert sessions.span.max() < pd.Timedelta(hours=6)
    browse = sessions[~sessions.index.isin(ev[ev.event_type == "purchase"].session_id)]
    assert browse.n.between(1, 8).all()


def test_personas_differ(frames: dict[str, pd.DataFrame], orders_p: pd.DataFrame) -> None:
    truth, it, ev = frames["customers_truth"], frames["order_items"], frames["web_events"]
    n_cust = truth.persona.value_counts()
    assert all(0.05 < n_cust[p] / len(truth) < 0.45 for p in PERSONAS)
    orders_per_cust = orders_p.groupby("persona").size() / n_cust
    assert orders_per_cust["loyal"] > 2 * orders_per_cust["occasional"]
    assert orders_per_cust["loyal"] == orders_per_cust.max()

    items = it.merge(orders_p[["order_id", "persona"]], on="order_id")
    items["gross"] = items.quantity * items.unit_price
    by = items.groupby("persona")
    discount_share = by.discount.sum() / by.gross.sum()
    assert discount_share["bargain_hunter"] > 2 * discount_share["big_spender"]
    assert discount_share["bargain_hunter"] == discount_share.max()
    unit_price = by.unit_price.mean()
    assert unit_price["big_spender"] > 1.5 * unit_price["bargain_hunter"]
    basket = by.size() / by.order_id.nunique()
    assert basket["big_spender"] > basket["occasional"]

    sessions = ev.dropna(subset=["customer_id"]).drop_duplicates("session_id")
    sessions = sessions.merge(truth[["customer_id", "persona"]], on="customer_id")
    per_order = sessions.groupby("persona").size() / orders_p.groupby("persona").size()
    assert per_order.idxmax() == "window_shopper"
    assert per_order["window_shopper"] > 2 * per_order.drop("window_shopper").max()

    rate = truth.groupby("persona").purchase_rate.mean()
    assert rate["loyal"] > rate["bargain_hunter"] > rate["occasional"] > rate["window_shopper"]
    p_drop = truth.groupby("persona").dropout_probability.mean()
    assert p_drop["loyal"] < p_drop["occasional"]


def test_preferences_drive_behaviour(frames: dict[str, pd.DataFrame], orders_p) -> None:
    truth, it, p = frames["customers_truth"], frames["order_items"], frames["products"]
    ev = frames["web_events"]
    fav = truth.set_index("customer_id").favourite_categories.str.split(",")
    top = fav.str[:2].explode().rename("category").reset_index()
    top["fav"] = True
    items = it.merge(frames["orders"][["order_id", "customer_id"]], on="order_id")
    items = items.merge(p[["product_id", "category"]], on="product_id")
    in_fav = items.merge(top, on=["customer_id", "category"], how="left").fav.fillna(False)
    assert in_fav.mean() > 0.5  # 2 of 12 categories would give ~0.17 at random
    views = ev[ev.event_type == "product_view"].dropna(subset=["customer_id"])
    views = views.merge(p[["product_id", "category"]], on="product_id")
    v_fav = views.merge(top, on=["customer_id", "category"], how="left").fav.fillna(False)
    assert v_fav.mean() > 0.5
    # favourite products are re-bought: customers repeat products far more than random
    repeat = items.duplicated(["customer_id", "product_id"]).mean()
    assert repeat > 0.15


def test_seasonality(orders_p: pd.DataFrame) -> None:
    o = orders_p
    year = o[o.ordered_at.dt.year == 2025]
    month = year.ordered_at.dt.month
    peak = month.isin([11, 12]).sum() / 61
    summer = month.isin([6, 7]).sum() / 61
    assert peak > 1.5 * summer
    weekday = o.ordered_at.dt.day_of_week
    weekend_rate = weekday.isin([5, 6]).sum() / 2
    midweek_rate = weekday.isin([1, 2, 3]).sum() / 3
    assert weekend_rate > 1.05 * midweek_rate
    hour = o.ordered_at.dt.hour
    assert hour.isin([19, 20, 21]).sum() > 2 * hour.isin([2, 3, 4]).sum()


def test_determinism(shop: tuple, tmp_path: Path) -> None:
    _, first, _ = shop
    counts, again, base = _run(SMALL, tmp_path / "same")
    for name, df in first.items():
        pd.testing.assert_frame_equal(df, again[name], obj=name)
    meta_a = json.loads((shop[2] / "truth" / "meta.json").read_text())
    meta_b = json.loads((base / "truth" / "meta.json").read_text())
    assert meta_a == meta_b
    other = ShopConfig(customers=SMALL.customers, products=SMALL.products, seed=SMALL.seed + 1)
    _, diff, _ = _run(other, tmp_path / "other")
    assert not diff["orders"].equals(first["orders"])
    assert not diff["customers_truth"].equals(first["customers_truth"])


def test_scaling(shop: tuple, tmp_path: Path) -> None:
    small_counts = shop[0]
    big = ShopConfig(customers=2 * SMALL.customers, products=SMALL.products, seed=SMALL.seed)
    counts, _, _ = _run(big, tmp_path)
    assert counts["customers"] == 2 * small_counts["customers"]
    assert counts["products"] == small_counts["products"]
    for name in ("order_lines", "web_events", "future_order_items"):
        ratio = counts[name] / small_counts[name]
        assert 1.7 < ratio < 2.3, (name, ratio)


def test_invalid_config(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(ShopConfig(customers=0), tmp_path / "a", tmp_path / "b", progress=False)
    with pytest.raises(ValueError):
        generate(ShopConfig(customers=10, products=5), tmp_path / "a", tmp_path / "b", False)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from simulator import main

    out, truth = tmp_path / "landing", tmp_path / "truth"
    argv = ["--customers", "300", "--products", "50", "--seed", "3"]
    assert main([*argv, "--out", str(out), "--truth", str(truth), "--no-progress"]) == 0
    assert (out / "web_events.parquet").is_file() and (truth / "meta.json").is_file()
    captured = capsys.readouterr()
    assert "order_lines:" in captured.out and captured.err == ""
    meta = json.loads((truth / "meta.json").read_text())
    assert meta["customers"] == 300 and meta["seed"] == 3
