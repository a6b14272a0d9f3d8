"""The simulator's archetypes (simulator.ARCHETYPES): every named small shop is generated and
checked for what defines it (one-time buyers never order twice, one product, no product data, no
web events, a short or old history, concentrated sales, dense repeat buying), for files, schemas
and row counts of exactly the tables it writes, and for a hidden truth consistent with its
landing data. Also the knobs behind them (repeat_rate, popularity_concentration, catalogues
smaller than the category list), the removal of a left-out table's stale file, and the CLI's
--archetype flag.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from simulator_helpers import SCHEMAS, TRUTH_SCHEMAS

from simulator import ARCHETYPE_DESCRIPTIONS, ARCHETYPES, ShopConfig, generate

EXPECTED_ARCHETYPES = {
    "tiny",
    "one_time_buyers",
    "one_product",
    "no_products",
    "no_events",
    "short_history",
    "long_past",
    "concentrated",
    "dense_repeat",
}


class Shop:
    """A generated shop read back: row counts, tables present, windows, derived views."""

    def __init__(self, config: ShopConfig, base: Path) -> None:
        self.config, self.base = config, base
        self.counts = generate(config, base / "landing", base / "truth", progress=False)
        self.landing = {
            p.stem: pd.read_parquet(p) for p in sorted((base / "landing").glob("*.parquet"))
        }
        self.truth = {
            p.stem: pd.read_parquet(p) for p in sorted((base / "truth").glob("*.parquet"))
        }
        self.meta = json.loads((base / "truth" / "meta.json").read_text())
        self.start = pd.Timestamp(config.start_date)
        self.obs_end = pd.Timestamp(config.end_date) + pd.Timedelta(days=1)
        self.future_end = self.obs_end + pd.Timedelta(days=config.future_days)
        lines = self.landing["order_lines"]
        self.orders = lines.drop_duplicates("order_id")
        self.orders_per_customer = self.orders.groupby("customer_id").size()

    def top_share(self, share: float = 0.05) -> float:
        """Share of the order lines on the top `share` of the catalogue's products."""
        counts = self.landing["order_lines"].product_id.value_counts()
        top = max(1, round(share * self.config.products))
        return float(counts.iloc[:top].sum() / counts.sum())


def _shop(config: ShopConfig, base: Path) -> Shop:
    return Shop(config, base)


# ----------------------------------------------------------------------------- registry


def test_registry() -> None:
    assert set(ARCHETYPES) == EXPECTED_ARCHETYPES
    assert set(ARCHETYPE_DESCRIPTIONS) == set(ARCHETYPES)
    for name, config in ARCHETYPES.items():
        assert isinstance(config, ShopConfig)
        assert config.customers <= 300, name
        description = ARCHETYPE_DESCRIPTIONS[name]
        assert description and "\n" not in description, name
    assert len(set(ARCHETYPES.values())) == len(ARCHETYPES)  # no two archetypes alike


# ----------------------------------------------------------------------------- every archetype


def _check_common(shop: Shop) -> None:
    """Files, schemas, counts, meta, window and truth consistency, for any shop."""
    config, landing, truth = shop.config, shop.landing, shop.truth
    expected = ["customers", "order_lines"]
    expected += ["products"] if config.with_products else []
    expected += ["web_events"] if config.with_events else []
    expected += ["reviews"] if config.with_products else []  # a review needs a product
    campaigns = truth["campaigns_truth"]
    expected += ["campaign_sends"] if len(campaigns) else []  # only if a campaign was sent
    assert sorted(landing) == sorted(expected)
    assert sorted(truth) == sorted(TRUTH_SCHEMAS)
    written = {**landing, **truth}
    assert shop.counts == {name: len(df) for name, df in written.items()}
    assert set(shop.counts) == set(written)
    assert shop.meta["row_counts"] == shop.counts
    assert shop.meta["customers"] == config.customers
    assert shop.meta["end_date"] == config.end_date.isoformat()
    assert shop.meta["history_days"] == config.history_days
    assert shop.meta["repeat_rate"] == config.repeat_rate
    assert shop.meta["popularity_concentration"] == config.popularity_concentration
    assert shop.meta["with_products"] is config.with_products
    assert shop.meta["with_events"] is config.with_events
    for folder, schemas in (("landing", SCHEMAS), ("truth", TRUTH_SCHEMAS)):
        for name in written.keys() & schemas.keys():
            schema = pq.read_schema(shop.base / folder / f"{name}.parquet")
            assert schema.names == list(schemas[name]), name
            assert [schema.field(c).type for c in schemas[name]] == list(schemas[name].values())

    c, lines, o = landing["customers"], landing["order_lines"], shop.orders
    assert len(c) == config.customers and c.customer_id.is_unique
    assert len(o) > 0, "every archetype has observed orders"
    assert o.customer_id.isin(c.customer_id).all()
    observed = [(c, "signup_at"), (lines, "ordered_at")]
    if config.with_products:
        p = landing["products"]
        assert len(p) == config.products
        assert lines.product_id.notna().all() and lines.product_id.isin(p.product_id).all()
        observed.append((p, "created_at"))
    if config.with_events:
        ev = landing["web_events"]
        assert len(ev) > 0
        purchases = ev[ev.event_type == "purchase"]
        assert len(purchases) == len(lines)  # one purchase event per order line
        observed.append((ev, "event_at"))
    if config.with_products:
        observed.append((landing["reviews"], "reviewed_at"))
        assert landing["reviews"].rating.between(1, 5).all()
    if len(campaigns):
        sends = landing["campaign_sends"]
        assert campaigns.campaign_id.is_unique
        assert set(sends.campaign_id) == set(campaigns.campaign_id)
        per = sends.groupby("campaign_id").is_control.agg(["sum", "size"])
        per = per.reindex(campaigns.campaign_id)
        assert (per["sum"].to_numpy() == campaigns.control.to_numpy()).all()
        assert (per["size"].to_numpy() == (campaigns.treated + campaigns.control).to_numpy()).all()
        assert (campaigns.sent_at >= shop.start).all() and (campaigns.sent_at < shop.obs_end).all()
        observed.append((sends, "sent_at"))
    for df, col in observed:
        assert df[col].min() >= shop.start, col
        assert df[col].max() < shop.obs_end, col

    # the truth: one row per customer, future orders and spend match the future items
    ct, fut = truth["customers_truth"], truth["future_order_items"]
    assert ct.customer_id.tolist() == c.customer_id.tolist()
    assert fut.empty or (
        (fut.ordered_at >= shop.obs_end).all() and (fut.ordered_at < shop.future_end).all()
    )
    assert not fut.order_id.isin(o.order_id).any()
    fut_orders = fut.drop_duplicates("order_id")
    expected_n = fut_orders[fut_orders.status != "cancelled"].groupby("customer_id").size()
    got_n = ct.set_index("customer_id").future_orders
    assert got_n.sum() == expected_n.sum()
    assert (got_n.reindex(expected_n.index) == expected_n).all()
    done = fut[fut.status == "completed"]
    spend = (done.quantity * done.unit_price - done.discount).groupby(done.customer_id).sum()
    got_spend = ct.set_index("customer_id").future_spend
    assert np.allclose(got_spend.reindex(spend.index), spend, atol=0.011)
    assert (ct.purchase_rate >= 0).all() and ct.dropout_probability.between(0, 1).all()
    dropped_by_end = ct.dropout_at.notna() & (ct.dropout_at < shop.obs_end)
    assert (ct.alive_at_end == ~dropped_by_end).all()
    all_orders = pd.concat(
        [o[["customer_id", "ordered_at"]], fut_orders[["customer_id", "ordered_at"]]]
    )
    last = all_orders.groupby("customer_id").ordered_at.max()
    dropped = ct.dropna(subset=["dropout_at"]).set_index("customer_id")
    assert (last.reindex(dropped.index) == dropped.dropout_at).all()  # dropout = last order
    if config.with_products:
        assert fut.product_id.isin(landing["products"].product_id).all()
    else:
        assert fut.product_id.isna().all()


def _check_tiny(shop: Shop, tmp_path: Path) -> None:
    assert shop.config.customers == 50 and shop.config.history_days == 8 * 7
    assert shop.orders.ordered_at.max() - shop.orders.ordered_at.min() <= pd.Timedelta(days=57)


def _check_one_time_buyers(shop: Shop, tmp_path: Path) -> None:
    assert shop.orders_per_customer.max() == 1  # nobody orders twice in the observed period
    fut = shop.truth["future_order_items"].drop_duplicates("order_id")
    everything = pd.concat([shop.orders.customer_id, fut.customer_id])
    assert everything.value_counts().max() == 1  # ... nor ever after
    ct = shop.truth["customers_truth"].set_index("customer_id")
    buyers = ct.loc[everything]
    assert buyers.dropout_at.notna().all() and (buyers.dropout_probability == 1).all()
    assert (ct.purchase_rate == 0).all()
    # the same shop with repeat_rate 1 has repeat buyers: the knob is what removes them
    default = _shop(replace(shop.config, repeat_rate=1.0), tmp_path / "repeat_rate_1")
    assert (default.orders_per_customer > 1).mean() > 0.3


def _check_one_product(shop: Shop, tmp_path: Path) -> None:
    products, lines = shop.landing["products"], shop.landing["order_lines"]
    assert len(products) == 1
    assert lines.product_id.nunique() == 1
    assert set(lines.product_id) == set(products.product_id)
    assert (lines.unit_price == products.price.iloc[0]).all()
    assert (lines.groupby("order_id").size() == 1).all()  # no product twice in an order
    ev = shop.landing["web_events"]
    assert set(ev.product_id.dropna()) == set(products.product_id)
    assert set(shop.truth["future_order_items"].product_id) <= set(products.product_id)


def _check_no_products(shop: Shop, tmp_path: Path) -> None:
    assert not (shop.base / "landing" / "products.parquet").exists()
    assert "products" not in shop.counts and "products" not in shop.meta["row_counts"]
    assert shop.landing["order_lines"].product_id.isna().all()
    assert shop.landing["web_events"].product_id.isna().all()
    assert shop.truth["future_order_items"].product_id.isna().all()
    assert (shop.landing["order_lines"].unit_price > 0).all()  # lines keep their amounts


def _check_no_events(shop: Shop, tmp_path: Path) -> None:
    assert not (shop.base / "landing" / "web_events.parquet").exists()
    assert "web_events" not in shop.counts and "web_events" not in shop.meta["row_counts"]
    # the orders do not depend on whether events are simulated
    with_events = _shop(replace(shop.config, with_events=True), tmp_path / "with_events")
    pd.testing.assert_frame_equal(shop.landing["order_lines"], with_events.landing["order_lines"])
    pd.testing.assert_frame_equal(
        shop.truth["customers_truth"], with_events.truth["customers_truth"]
    )


def _check_short_history(shop: Shop, tmp_path: Path) -> None:
    assert shop.config.history_days == 21
    assert shop.start == pd.Timestamp(shop.config.end_date) - pd.Timedelta(days=21)
    for df, col in ((shop.orders, "ordered_at"), (shop.landing["web_events"], "event_at")):
        assert df[col].min() >= shop.start and df[col].max() < shop.obs_end
    assert shop.landing["customers"].signup_at.min() >= shop.start


def _check_long_past(shop: Shop, tmp_path: Path) -> None:
    assert shop.config.end_date == date(1998, 12, 31)
    years = shop.orders.ordered_at.dt.year
    assert set(years) == {1997, 1998}  # ~2 years of history ending 1998-12-31
    assert shop.landing["web_events"].event_at.dt.year.max() == 1998
    assert shop.landing["customers"].signup_at.dt.year.min() >= 1996
    fut = shop.truth["future_order_items"]
    assert len(fut) > 0 and set(fut.ordered_at.dt.year) == {1999}
    # Black Friday and December exist in the past too: seasonality still shows
    month = shop.orders.ordered_at.dt.month
    assert month.isin([11, 12]).sum() > month.isin([6, 7]).sum()


def _check_concentrated(shop: Shop, tmp_path: Path) -> None:
    share = shop.top_share(0.05)
    assert share >= 0.7, share
    default = _shop(replace(shop.config, popularity_concentration=1.0), tmp_path / "spread")
    default_share = default.top_share(0.05)
    assert share > default_share + 0.3, (share, default_share)
    sold = shop.landing["order_lines"].product_id.nunique()
    assert sold < default.landing["order_lines"].product_id.nunique()


def _check_dense_repeat(shop: Shop, tmp_path: Path) -> None:
    per = shop.orders_per_customer
    assert (per > 1).mean() >= 0.75, (per > 1).mean()
    default = _shop(replace(shop.config, repeat_rate=1.0), tmp_path / "repeat_rate_1")
    base = default.orders_per_customer
    assert per.mean() > 3 * base.mean(), (per.mean(), base.mean())
    assert (per > 1).mean() > (base > 1).mean() + 0.2
    # the lifetime in days stays about the same: the share still alive at the end is similar
    alive = shop.truth["customers_truth"].alive_at_end.mean()
    assert abs(alive - default.truth["customers_truth"].alive_at_end.mean()) < 0.2


CHECKS = {
    "tiny": _check_tiny,
    "one_time_buyers": _check_one_time_buyers,
    "one_product": _check_one_product,
    "no_products": _check_no_products,
    "no_events": _check_no_events,
    "short_history": _check_short_history,
    "long_past": _check_long_past,
    "concentrated": _check_concentrated,
    "dense_repeat": _check_dense_repeat,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_ARCHETYPES))
def test_archetype(name: str, tmp_path: Path) -> None:
    shop = _shop(ARCHETYPES[name], tmp_path / name)
    _check_common(shop)
    CHECKS[name](shop, tmp_path)


# ----------------------------------------------------------------------------- knobs


@pytest.mark.parametrize("products", [1, 5, 11])
def test_catalogue_smaller_than_the_category_list(products: int, tmp_path: Path) -> None:
    shop = _shop(ShopConfig(customers=150, products=products, history_days=120), tmp_path)
    _check_common(shop)
    p = shop.landing["products"]
    assert p.category.nunique() == products  # one category per product
    assert shop.landing["order_lines"].product_id.nunique() == products


def test_repeat_rate_orders_more_with_higher_rate(tmp_path: Path) -> None:
    base = ShopConfig(customers=200, products=50, history_days=365)
    per_buyer = [
        _shop(replace(base, repeat_rate=r), tmp_path / str(r)).orders_per_customer.mean()
        for r in (0.0, 0.5, 1.0, 3.0)
    ]
    assert per_buyer[0] == 1.0
    assert per_buyer == sorted(per_buyer) and len(set(per_buyer)) == 4, per_buyer


def test_left_out_table_removes_stale_file(tmp_path: Path) -> None:
    out, truth = tmp_path / "landing", tmp_path / "truth"
    generate(ARCHETYPES["one_product"], out, truth, progress=False)  # a year: campaigns sent
    for name in ("products", "web_events", "reviews", "campaign_sends"):
        assert (out / f"{name}.parquet").is_file(), name
    tiny = ARCHETYPES["tiny"]  # 8 weeks of history: no campaign
    counts = generate(replace(tiny, with_products=False, with_events=False), out, truth, False)
    assert sorted(p.name for p in out.iterdir()) == ["customers.parquet", "order_lines.parquet"]
    assert set(counts) == {
        "customers",
        "order_lines",
        "customers_truth",
        "future_order_items",
        "campaigns_truth",
    }
    assert pd.read_parquet(truth / "campaigns_truth.parquet").empty


def test_invalid_knobs(tmp_path: Path) -> None:
    for bad in (
        ShopConfig(customers=10, products=0),
        ShopConfig(customers=10, repeat_rate=-1.0),
        ShopConfig(customers=10, repeat_rate=float("nan")),
        ShopConfig(customers=10, popularity_concentration=-0.5),
    ):
        with pytest.raises(ValueError):
            generate(bad, tmp_path / "a", tmp_path / "b", progress=False)


# ----------------------------------------------------------------------------- CLI


def test_cli_archetype(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from simulator import main

    out, truth = tmp_path / "landing", tmp_path / "truth"
    io = ["--out", str(out), "--truth", str(truth), "--no-progress"]
    assert main(["--archetype", "no_products", *io]) == 0
    meta = json.loads((truth / "meta.json").read_text())
    config = ARCHETYPES["no_products"]
    assert meta["customers"] == config.customers and meta["with_products"] is False
    assert not (out / "products.parquet").exists()
    printed = capsys.readouterr().out
    assert "order_lines:" in printed and "products:" not in printed

    # explicit flags override the archetype's settings
    argv = ["--archetype", "no_products", "--customers", "60", "--with-products", "--seed", "5"]
    assert main([*argv, "--repeat-rate", "0", "--no-events", *io]) == 0
    meta = json.loads((truth / "meta.json").read_text())
    assert meta["customers"] == 60 and meta["seed"] == 5 and meta["repeat_rate"] == 0.0
    assert meta["with_products"] is True and meta["with_events"] is False
    assert meta["history_days"] == config.history_days  # the rest from the archetype
    assert (out / "products.parquet").is_file() and not (out / "web_events.parquet").exists()
    capsys.readouterr()

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for name, description in ARCHETYPE_DESCRIPTIONS.items():
        assert name in help_text and description in help_text
    with pytest.raises(SystemExit):
        main(["--archetype", "no_such_shop", *io])
