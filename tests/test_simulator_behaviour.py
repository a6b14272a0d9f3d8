"""The synthetic shop generator (simulator) as behaviour: the hidden truth (future orders and
spend), buy-till-you-die dropout, anonymous sessions, personas that differ, preferences that drive
purchases and views, and seasonality.

The tables themselves (files, schemas, keys, domains, determinism, CLI) are tested in
tests/test_simulator_tables.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import simulator_helpers
from simulator_helpers import FUTURE_END, OBS_END

from simulator import PERSONAS

# the module-scoped fixtures, shared with tests/test_simulator_tables.py
shop = simulator_helpers.shop
frames = simulator_helpers.frames


@pytest.fixture(scope="module")
def orders_p(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Observed orders with the hidden persona attached."""
    truth = frames["customers_truth"][["customer_id", "persona"]]
    return frames["orders"].merge(truth, on="customer_id", validate="many_to_one")


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
