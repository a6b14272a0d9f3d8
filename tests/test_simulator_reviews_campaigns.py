"""The simulator's reviews and past campaigns: ratings driven by a hidden satisfaction that
relates to churn, reviews only of delivered observed items and after them, purchase-session
searches naming what is bought, campaign sends matching the campaigns truth, a win-back campaign
with a real effect (its extra orders exist in the landing order lines) and a newsletter without,
and no reviews without product data.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator import CATEGORIES, ShopConfig, generate
from simulator.world import CATEGORY_SPECS, SEARCH_PREFIXES

CONFIG = ShopConfig(customers=2_000, products=100)
OBS_END = pd.Timestamp(CONFIG.end_date) + pd.Timedelta(days=1)
FUTURE_END = OBS_END + pd.Timedelta(days=CONFIG.future_days)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    base = tmp_path_factory.mktemp("reviews_campaigns")
    counts = generate(CONFIG, base / "landing", base / "truth", progress=False)
    frames = {p.stem: pd.read_parquet(p) for p in (base / "landing").glob("*.parquet")}
    frames |= {p.stem: pd.read_parquet(p) for p in (base / "truth").glob("*.parquet")}
    assert {name: len(frames[name]) for name in counts} == counts
    return frames


def test_ratings_follow_satisfaction_and_churn(shop: dict[str, pd.DataFrame]) -> None:
    rv, ct = shop["reviews"], shop["customers_truth"]
    assert rv.review_id.is_unique and rv.review_id.str.fullmatch(r"REV-\d{7}").all()
    assert rv.customer_id.str.fullmatch(r"CUST-\d{6}").all()
    assert rv.product_id.str.fullmatch(r"PROD-\d{5}").all()
    assert rv.rating.dtype == np.int64 and rv.rating.between(1, 5).all()
    assert set(rv.rating) == {1, 2, 3, 4, 5}
    assert 3.7 < rv.rating.mean() < 4.3
    assert 0.08 < rv.rating.le(2).mean() < 0.22
    assert 0.05 < rv.customer_id.nunique() / len(ct) < 0.35  # a minority of customers review
    assert rv.review_text.notna().mean() > 0.4
    texts = rv.dropna(subset=["review_text"]).groupby("rating").review_text.agg(set)
    assert not texts[1] & texts[5]  # texts depend on the rating
    assert not rv.duplicated(["customer_id", "product_id"]).any()

    assert ct.satisfaction.between(0, 1).all()
    assert np.corrcoef(ct.satisfaction, ct.dropout_probability)[0, 1] < -0.3
    rv = rv.merge(ct, on="customer_id", validate="many_to_one")
    assert np.corrcoef(rv.rating, rv.satisfaction)[0, 1] > 0.3
    # customers who drop out soon (by the end of the future window) rate lower than stayers
    drops = rv.dropout_at.notna() & (rv.dropout_at < FUTURE_END)
    assert rv[drops].rating.mean() < rv[~drops].rating.mean() - 0.3
    # including those still alive at end_date who drop out in the future window
    soon = drops & rv.alive_at_end
    assert soon.sum() > 20 and rv[soon].rating.mean() < rv[~drops].rating.mean()


def test_reviews_follow_completed_observed_items(shop: dict[str, pd.DataFrame]) -> None:
    rv, lines, ct = shop["reviews"], shop["order_lines"], shop["customers_truth"]
    assert rv.reviewed_at.max() < OBS_END
    assert rv.reviewed_at.is_monotonic_increasing
    done = lines[lines.status == "completed"]
    first = done.groupby(["customer_id", "product_id"]).ordered_at.min().rename("first_bought")
    rv = rv.join(first, on=["customer_id", "product_id"])
    assert rv.first_bought.notna().all()  # a completed observed order line of that product
    assert (rv.reviewed_at >= rv.first_bought + pd.Timedelta(days=2)).all()
    assert (rv.reviewed_at - rv.first_bought).median() < pd.Timedelta(days=30)
    # the last order before a dropout was a bad experience
    dropout = ct.set_index("customer_id").dropout_at
    rv = rv.assign(last=rv.first_bought == rv.customer_id.map(dropout))
    assert rv["last"].sum() > 20
    assert rv[rv["last"]].rating.mean() < rv[~rv["last"]].rating.mean() - 0.5


def test_purchase_session_search_names_the_bought_item(shop: dict[str, pd.DataFrame]) -> None:
    ev, products = shop["web_events"], shop["products"]
    purchases = ev[ev.event_type == "purchase"].sort_values("event_id")
    first = purchases.drop_duplicates("session_id").set_index("session_id").product_id
    searches = ev[(ev.event_type == "search") & ev.session_id.isin(first.index)]
    assert len(searches) > 100
    noun = searches.search_query
    for prefix in SEARCH_PREFIXES[1:]:
        noun = noun.str.removeprefix(prefix)
    name = searches.session_id.map(first).map(products.set_index("product_id").product_name)
    assert all(n in p.lower() for n, p in zip(noun, name, strict=True))
    category = {n.lower(): c.name for c in CATEGORY_SPECS for n in c.nouns}
    assert set(noun.map(category)) <= set(CATEGORIES)


def test_campaigns(shop: dict[str, pd.DataFrame]) -> None:
    sends, truth, lines = shop["campaign_sends"], shop["campaigns_truth"], shop["order_lines"]
    ct = shop["customers_truth"]
    assert len(truth) == 2 and truth.campaign_id.is_unique
    assert (truth.window_days == 30).all()
    assert (truth.sent_at + pd.Timedelta(days=60) < OBS_END).all()  # window ends well before
    assert sends.customer_id.isin(ct.customer_id).all()
    assert not sends.duplicated(["campaign_id", "customer_id"]).any()
    t = truth.set_index("campaign_id")
    for cid, g in sends.groupby("campaign_id"):
        assert g.sent_at.nunique() == 1 and g.sent_at.iloc[0] == t.sent_at[cid]
        assert g.audience.nunique() == 1 and g.audience.iloc[0] == t.audience[cid]
        assert (~g.is_control).sum() == t.treated[cid] and g.is_control.sum() == t.control[cid]
        assert 0.17 < g.is_control.mean() < 0.23
    winback = truth[truth.audience == "win_back"].iloc[0]
    news = truth[truth.audience == "newsletter"].iloc[0]
    assert winback.campaign_id == f"winback_{winback.sent_at:%Y_%m}"
    assert news.campaign_id == f"newsletter_{news.sent_at:%Y_%m}"
    assert 0.05 < winback.true_conversion_uplift < 0.2
    assert winback.true_revenue_uplift_per_customer > 0
    assert news.true_conversion_uplift == 0 and news.true_revenue_uplift_per_customer == 0

    # win-back audience: lapsed (last order 90-365 days before) with at least 2 orders
    orders = lines.drop_duplicates("order_id")
    aud = sends[sends.campaign_id == winback.campaign_id]
    before = orders[(orders.ordered_at < winback.sent_at) & (orders.status != "cancelled")]
    hist = before.groupby("customer_id").ordered_at.agg(["size", "max"]).loc[aud.customer_id]
    assert (hist["size"] >= 2).all()
    lapse = winback.sent_at - hist["max"]
    assert lapse.between(pd.Timedelta(days=90), pd.Timedelta(days=365)).all()

    # measured as the pipeline will: treated convert more than control (the extra orders)
    def measured(c: pd.Series) -> pd.Series:
        start, end = c.sent_at, c.sent_at + pd.Timedelta(days=int(c.window_days))
        window = orders[
            (orders.ordered_at >= start)
            & (orders.ordered_at < end)
            & orders.status.isin(["completed", "returned"])
        ]
        g = sends[sends.campaign_id == c.campaign_id]
        return g.customer_id.isin(window.customer_id).groupby(g.is_control).mean()

    rate = measured(winback)
    assert rate[False] - rate[True] > 0.04, rate
    rate = measured(news)
    assert abs(rate[False] - rate[True]) < 0.08, rate


def test_win_back_audience_size_of_the_test_shop(tmp_path: Path) -> None:
    """The pipeline's test shop has a win-back audience large enough to measure the effect."""
    config = ShopConfig(customers=4_000, products=300, seed=7)
    generate(config, tmp_path / "landing", tmp_path / "truth", progress=False)
    truth = pd.read_parquet(tmp_path / "truth" / "campaigns_truth.parquet")
    winback = truth[truth.audience == "win_back"].iloc[0]
    assert winback.treated + winback.control >= 600
    sends = pd.read_parquet(tmp_path / "landing" / "campaign_sends.parquet")
    sends = sends[sends.campaign_id == winback.campaign_id]
    orders = pd.read_parquet(tmp_path / "landing" / "order_lines.parquet")
    end = winback.sent_at + pd.Timedelta(days=int(winback.window_days))
    window = orders[
        orders.ordered_at.between(winback.sent_at, end, inclusive="left")
        & orders.status.isin(["completed", "returned"])
    ]
    rate = (
        sends.customer_id.isin(window.customer_id).groupby(sends.is_control).agg(["mean", "size"])
    )
    p1, p0 = rate["mean"][False], rate["mean"][True]
    se = np.sqrt(p1 * (1 - p1) / rate["size"][False] + p0 * (1 - p0) / rate["size"][True])
    assert (p1 - p0) / se > 3, (p1, p0, se)  # clearly significant
    assert abs((p1 - p0) - winback.true_conversion_uplift) < 3 * se


def test_no_products_no_reviews(tmp_path: Path) -> None:
    config = replace(CONFIG, customers=300, with_products=False)
    counts = generate(config, tmp_path / "landing", tmp_path / "truth", progress=False)
    assert "reviews" not in counts and not (tmp_path / "landing" / "reviews.parquet").exists()
    assert "campaign_sends" in counts  # campaigns need no products
    sends = pd.read_parquet(tmp_path / "landing" / "campaign_sends.parquet")
    assert len(sends) == counts["campaign_sends"] > 0
