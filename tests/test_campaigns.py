"""scores.campaign_results: measured uplift of past campaigns against their control groups.

A hand-made campaign log is inserted into a scratch copy of the session warehouse and the model
rebuilt there: its rates and uplift must be exactly what is counted here from the orders. The
simulator's past campaigns (truth file campaigns_truth.parquet) have a known true effect: the
measured intervals must contain it."""

import math
import shutil
from datetime import timedelta

import duckdb
import pandas as pd
import pytest
from dbt_helpers import dbt_run

from orchestration.settings import get_settings

Z = 1.959963984540054


def _window_outcomes(orders: pd.DataFrame, sent_at: pd.Timestamp, window_days: int) -> pd.DataFrame:
    """Per customer: converted (a purchase in [sent_at, sent_at + window)) and window revenue."""
    end = sent_at + timedelta(days=window_days)
    inside = orders[(orders.ordered_at >= sent_at) & (orders.ordered_at < end)]
    converted = inside[inside.is_purchase].groupby("customer_id").size().gt(0)
    revenue = inside[inside.is_revenue].groupby("customer_id").net_amount.sum()
    frame = pd.DataFrame({"customer_id": orders.customer_id.unique()})
    frame["converted"] = frame.customer_id.map(converted).fillna(False).astype(bool)
    frame["revenue"] = frame.customer_id.map(revenue).fillna(0.0).astype(float)
    return frame.set_index("customer_id")


@pytest.fixture(scope="module")
def hand_made(warehouse, tmp_path_factory):
    """A scratch warehouse with three hand-made campaigns; returns (results, expected)."""
    window = get_settings().config.models.campaign_window_days
    orders = warehouse.execute(
        "select customer_id, ordered_at, is_purchase, is_revenue, net_amount "
        "from marts.fct_orders where customer_id is not null"
    ).df()
    last_day = orders.ordered_at.max().normalize()
    sent_at = last_day - timedelta(days=window + 30) + timedelta(hours=9)
    outcomes = _window_outcomes(orders, sent_at, window)
    buyers = outcomes[outcomes.converted].index.sort_values()
    others = outcomes[~outcomes.converted].index.sort_values()
    assert len(buyers) >= 60 and len(others) >= 80, "the shop is too small for this test"
    # "test": 50 converting and 30 non-converting treated; 10 and 40 in control
    treated = list(buyers[:50]) + list(others[:30])
    control = list(buyers[50:60]) + list(others[30:70])
    rows = [("test", c, "win_back", sent_at, False) for c in treated]
    rows += [("test", c, "win_back", sent_at, True) for c in control]
    # the same treated customer listed twice counts once
    rows.append(("test", treated[0], "win_back", sent_at + timedelta(hours=1), False))
    # "no_control": nobody held out; "recent": its window has not ended yet
    rows += [("no_control", c, "newsletter", sent_at, False) for c in treated[:20]]
    rows += [
        ("recent", c, "newsletter", last_day - timedelta(days=3), c in control)
        for c in treated[:5] + control[:5]
    ]

    folder = tmp_path_factory.mktemp("campaigns")
    copy = folder / "warehouse.duckdb"
    shutil.copy(get_settings().duckdb_path, copy)
    with duckdb.connect(str(copy)) as conn:
        conn.execute("delete from raw.campaign_sends")
        conn.executemany(
            "insert into raw.campaign_sends (campaign_id, customer_id, audience, sent_at, is_control) "
            "values (?, ?, ?, ?, ?)",
            [(a, b, c, d.to_pydatetime(), e) for a, b, c, d, e in rows],
        )
    dbt_run(copy, folder / "target", ["--select", "stg_shop__campaign_sends", "campaign_results"])
    with duckdb.connect(str(copy), read_only=True) as conn:
        results = (
            conn.execute("select * from scores.campaign_results").df().set_index("campaign_id")
        )
    return results, outcomes.loc[treated], outcomes.loc[control]


def test_hand_made_campaign_gives_the_counted_uplift(hand_made):
    results, treated, control = hand_made
    row = results.loc["test"]
    assert (row.treated_customers, row.control_customers) == (80, 50)
    assert row.treated_conversion_rate == pytest.approx(50 / 80, abs=1e-12)
    assert row.control_conversion_rate == pytest.approx(10 / 50, abs=1e-12)
    assert row.conversion_uplift == pytest.approx(50 / 80 - 10 / 50, abs=1e-12)
    se = math.sqrt(0.625 * 0.375 / 80 + 0.2 * 0.8 / 50)
    assert row.conversion_uplift_ci_low == pytest.approx(0.425 - Z * se, abs=1e-12)
    assert row.conversion_uplift_ci_high == pytest.approx(0.425 + Z * se, abs=1e-12)
    assert row.significant  # 0.425 with n = 80/50 is far from 0
    revenue_uplift = treated.revenue.mean() - control.revenue.mean()
    welch = math.sqrt(treated.revenue.var() / 80 + control.revenue.var() / 50)
    assert row.treated_revenue_per_customer == pytest.approx(treated.revenue.mean(), rel=1e-9)
    assert row.revenue_uplift_per_customer == pytest.approx(revenue_uplift, rel=1e-9, abs=1e-9)
    assert row.revenue_uplift_ci_low == pytest.approx(revenue_uplift - Z * welch, rel=1e-9)
    assert row.revenue_uplift_ci_high == pytest.approx(revenue_uplift + Z * welch, rel=1e-9)
    window = get_settings().config.models.campaign_window_days
    assert row.audience == "win_back" and row.window_days == window and row.outcome_complete


def test_campaign_without_control_has_no_uplift_and_recent_one_is_incomplete(hand_made):
    results, _, _ = hand_made
    alone = results.loc["no_control"]
    assert alone.treated_customers == 20 and alone.control_customers == 0
    assert pd.isna(alone.conversion_uplift) and pd.isna(alone.revenue_uplift_per_customer)
    assert pd.isna(alone.significant) and pd.isna(alone.conversion_uplift_ci_low)
    assert not results.loc["recent"].outcome_complete
    assert results.loc["test"].outcome_complete


def test_simulated_campaigns_recover_their_true_effect(warehouse):
    truth_file = get_settings().truth_dir / "campaigns_truth.parquet"
    if not truth_file.exists():
        pytest.skip("the simulator writes no past campaigns yet (campaigns_truth.parquet)")
    truth = pd.read_parquet(truth_file).set_index("campaign_id")
    results = (
        warehouse.execute("select * from scores.campaign_results").df().set_index("campaign_id")
    )
    assert set(truth.index) <= set(results.index)
    for campaign_id, true in truth.iterrows():
        measured = results.loc[campaign_id]
        assert measured.treated_customers == true.treated
        assert measured.control_customers == true.control
        assert measured.outcome_complete
        assert (
            measured.conversion_uplift_ci_low
            <= true.true_conversion_uplift
            <= measured.conversion_uplift_ci_high
        ), (campaign_id, measured.conversion_uplift, true.true_conversion_uplift)
        if campaign_id.startswith("newsletter"):
            assert not measured.significant, campaign_id
        if campaign_id.startswith("winback"):
            assert measured.significant and measured.conversion_uplift > 0, campaign_id
