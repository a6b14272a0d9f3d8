"""The synthetic shop generator (simulator) as tables: files and row counts written, meta.json,
parquet schemas, value domains and keys, amounts, referential integrity and the observed window,
determinism, scaling with the configuration, invalid configurations and the CLI.

What the generated customers do (personas, preferences, seasonality, dropout, the hidden truth)
is tested in tests/test_simulator_behaviour.py.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import simulator_helpers
from simulator_helpers import OBS_END, OBS_START, SCHEMAS, SMALL, TRUTH_SCHEMAS, _run

from simulator import CATEGORIES, PERSONAS, ShopConfig, generate

# the module-scoped fixtures, shared with tests/test_simulator_behaviour.py
shop = simulator_helpers.shop
frames = simulator_helpers.frames


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


def test_a_large_shop_is_generated_in_shards_with_one_catalogue_and_unique_ids(
    shop: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above SHARD_CUSTOMERS customers the shop is generated a shard at a time (memory stays
    that of one shard): shard 0 is the shop of its size alone, every shard sells the same
    catalogue, ids continue across shards, and campaigns_truth sums the shards' campaigns."""
    generation = importlib.import_module("simulator.generate")  # the package's name is the function

    assert generation.shard_sizes(100_000) == [100_000]
    assert generation.shard_sizes(250_001) == [83_334, 83_334, 83_333]
    monkeypatch.setattr(generation, "SHARD_CUSTOMERS", 800)
    counts, sharded, base = _run(SMALL, tmp_path / "sharded")
    _, alone, _ = _run(replace(SMALL, customers=667), tmp_path / "first shard alone")
    one_piece = shop[1]

    customers = sharded["customers"]
    assert len(customers) == SMALL.customers and customers.customer_id.is_unique
    assert customers.email.is_unique
    pd.testing.assert_frame_equal(customers.iloc[:667], alone["customers"])
    pd.testing.assert_frame_equal(sharded["products"], one_piece["products"])
    assert (
        not customers.iloc[667:1334]
        .reset_index(drop=True)[["signup_at", "country"]]
        .equals(customers.iloc[:667].reset_index(drop=True)[["signup_at", "country"]])
    )
    lines, events = sharded["order_lines"], sharded["web_events"]
    assert not lines.duplicated(["order_id", "line_number"]).any()
    assert lines.groupby("order_id").customer_id.nunique().max() == 1
    assert set(lines.customer_id) <= set(customers.customer_id)
    priced = lines.merge(one_piece["products"], on="product_id", validate="many_to_one")
    assert len(priced) == len(lines) and (priced.unit_price == priced.price).all()
    assert sharded["reviews"].review_id.is_unique
    assert (np.sort(events.event_id.to_numpy()) == np.arange(1, len(events) + 1)).all()
    assert events.groupby("session_id").customer_id.nunique(dropna=False).max() == 1
    assert set(events.customer_id.dropna()) <= set(customers.customer_id)
    # the same shop's distribution: about as many rows per customer as in one piece
    for name in ("order_lines", "web_events", "reviews", "future_order_items"):
        ratio = counts[name] / len(one_piece[name])
        assert 0.85 < ratio < 1.15, (name, ratio)
    meta = json.loads((base / "truth" / "meta.json").read_text())
    assert meta["row_counts"] == counts and meta["customers"] == SMALL.customers
    sends, truth = sharded["campaign_sends"], sharded["campaigns_truth"]
    assert truth.campaign_id.is_unique
    for row in truth.itertuples():
        sent = sends[sends.campaign_id == row.campaign_id]
        assert row.treated == (~sent.is_control).sum() and row.control == sent.is_control.sum()


def test_invalid_config(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(ShopConfig(customers=0), tmp_path / "a", tmp_path / "b", progress=False)
    with pytest.raises(ValueError):
        generate(ShopConfig(customers=10, products=0), tmp_path / "a", tmp_path / "b", False)


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
