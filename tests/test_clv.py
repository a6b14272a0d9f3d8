"""The platform's customer-value helpers (ml.clv): CustomerValueModel (BG/NBD + Gamma-Gamma over
a customer summary), summary_from_features, naive_rate_baseline and value_metrics, and their
invalid input (with the remaining ml.btyd input checks).

The value model is checked against customers simulated with known parameters
(tests/btyd_helpers.py); its tolerances follow the spread over 30 seeds described in
tests/test_btyd.py (365-day total orders 1.3%, revenue 1.7%). The models themselves (ml.btyd) are
tested in tests/test_btyd.py.
"""

import btyd_helpers
import numpy as np
import pandas as pd
import pytest
from btyd_helpers import HORIZON, TRUE_BG, TRUE_GG, _model, _relative_errors

from ml.btyd import BetaGeoModel, GammaGammaModel, simulate_mbgnbd
from ml.clv import (
    HISTORICAL_RATE,
    CustomerValue,
    CustomerValueModel,
    naive_rate_baseline,
    summary_from_features,
    value_metrics,
)

simulated = btyd_helpers.simulated  # the module-scoped fixture, shared with tests/test_btyd.py


# ---------------------------------------------------------------------------------- value model


def test_customer_value_model(simulated):
    model = CustomerValueModel(horizon_days=HORIZON).fit(simulated)
    gg_errors = _relative_errors(model.gamma_gamma_.params_, TRUE_GG)
    print("Gamma-Gamma (all orders) fitted", model.gamma_gamma_.params_, gg_errors)
    assert max(abs(e) for e in gg_errors.values()) < 0.20

    predicted = model.predict(simulated)
    assert list(predicted.columns) == [
        "p_alive",
        "expected_orders",
        "expected_revenue",
        "expected_days_to_next_order",
    ]
    assert predicted.index.equals(simulated.index)
    value = model.gamma_gamma_.conditional_expected_average_value(
        simulated["frequency"] + 1, simulated["monetary_value"]
    )
    np.testing.assert_allclose(predicted["expected_revenue"], predicted["expected_orders"] * value)

    metrics = value_metrics(
        predicted["expected_orders"],
        predicted["expected_revenue"],
        simulated["future_purchases"],
        simulated["future_revenue"],
    )
    baseline = naive_rate_baseline(simulated, HORIZON)
    baseline_metrics = value_metrics(
        baseline["expected_orders"],
        baseline["expected_revenue"],
        simulated["future_purchases"],
        simulated["future_revenue"],
    )
    print("model", metrics, "\nbaseline", baseline_metrics)
    assert abs(metrics["orders_relative_error"]) < 0.05
    assert abs(metrics["revenue_relative_error"]) < 0.07
    assert metrics["orders_mae"] < 0.8 * baseline_metrics["orders_mae"]
    assert metrics["revenue_mae"] < 0.8 * baseline_metrics["revenue_mae"]

    # horizon override
    rows = simulated.iloc[:50]
    assert np.all(model.predict(rows, horizon_days=0)["expected_orders"] == 0)
    assert np.all(
        model.predict(rows, horizon_days=30)["expected_orders"]
        < model.predict(rows)["expected_orders"]
    )


# ---------------------------------------------------------------------------------- helpers


def test_summary_from_features():
    features = pd.DataFrame(
        {
            "customer_id": ["never", "once", "loyal", "odd", "unknown", "returned"],
            "frequency": pd.array([0, 1, 4, 2, None, 3], dtype="Int64"),
            "days_since_first_order": [None, 50, 200, 30, None, 90],
            "recency_days": [None, 50, 10, 40, None, 5],
            "avg_order_value": [None, 20.0, 35.0, 12.0, None, None],
            "as_of_date": pd.Timestamp("2024-06-01"),
        }
    )
    summary = summary_from_features(features)
    assert summary["customer_id"].tolist() == ["once", "loyal", "odd", "returned"]
    assert summary["frequency"].tolist() == [0, 3, 1, 2]
    assert summary["T"].tolist() == [50, 200, 30, 90]
    assert summary["recency"].tolist() == [0, 190, 0, 85]  # "odd" is clipped into [0, T]
    assert summary["monetary_value"].iloc[:3].tolist() == [20.0, 35.0, 12.0]
    assert np.isnan(summary["monetary_value"].iloc[3])
    # ready for the model as it is
    model = _model(**TRUE_BG)
    assert np.all(
        np.isfinite(model.p_alive(summary["frequency"], summary["recency"], summary["T"]))
    )


def test_naive_rate_baseline():
    summary = pd.DataFrame(
        {"frequency": [0, 3, 2], "T": [10.0, 300.0, 60.0], "monetary_value": [20.0, 35.0, np.nan]},
        index=["a", "b", "c"],
    )
    result = naive_rate_baseline(summary, 365)
    np.testing.assert_allclose(result["expected_orders"], [0.0, 3.65, 2 / 60 * 365])
    np.testing.assert_allclose(result["expected_revenue"], [0.0, 3.65 * 35, 0.0])
    assert result.index.tolist() == ["a", "b", "c"]
    with_first = naive_rate_baseline(summary, 365, include_first_order=True)
    np.testing.assert_allclose(
        with_first["expected_orders"], [365 / 30, 4 / 300 * 365, 3 / 60 * 365]
    )


def test_value_metrics():
    metrics = value_metrics([1, 2, 3], [10, 20, 30], [2, 2, 0], [20, 10, 0])
    assert metrics == {
        "n_customers": 3.0,
        "predicted_orders": 6.0,
        "actual_orders": 4.0,
        "predicted_revenue": 60.0,
        "actual_revenue": 30.0,
        "orders_relative_error": 0.5,
        "revenue_relative_error": 1.0,
        "orders_mae": pytest.approx(4 / 3),
        "revenue_mae": pytest.approx(50 / 3),
    }
    assert np.isnan(value_metrics([1], [1], [0], [0])["orders_relative_error"])


# ---------------------------------------------------------------------------------- bad input


def test_other_invalid_input():
    with pytest.raises(ValueError, match="empty input"):
        GammaGammaModel().fit([], [])
    with pytest.raises(ValueError, match="frequency must be positive"):
        GammaGammaModel().fit([0, 2], [10.0, 12.0])
    with pytest.raises(ValueError, match="monetary_value must be positive"):
        GammaGammaModel().fit([1, 2], [0.0, 12.0])
    with pytest.raises(ValueError, match="penalizer"):
        BetaGeoModel(penalizer=-1).fit([1], [1], [2])
    with pytest.raises(ValueError, match="t \\(days ahead\\)"):
        _model(**TRUE_BG).expected_purchases(-5, [1], [1], [2])
    with pytest.raises(ValueError, match="missing column"):
        CustomerValueModel().fit(pd.DataFrame({"frequency": [1], "recency": [1], "T": [2]}))
    with pytest.raises(ValueError, match="empty summary"):
        CustomerValueModel().fit(
            pd.DataFrame(columns=["frequency", "recency", "T", "monetary_value"])
        )
    with pytest.raises(ValueError, match="several rows per customer_id"):
        summary_from_features(
            pd.DataFrame(
                {
                    "customer_id": ["x", "x"],
                    "frequency": [2, 3],
                    "days_since_first_order": [10, 20],
                    "recency_days": [1, 2],
                    "avg_order_value": [5.0, 5.0],
                }
            )
        )
    with pytest.raises(RuntimeError, match="not fitted"):
        BetaGeoModel().p_alive([1], [1], [2])


# ------------------------------------------------------------- choosing the value model by holdout


def _value_frames(summary: pd.DataFrame, future_orders: np.ndarray) -> dict[str, pd.DataFrame]:
    """The platform's value inputs from a BTYD summary with what each customer bought next."""
    order_value = np.random.default_rng(0).gamma(4.0, 10.0, len(summary))
    features = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(len(summary))],
            "frequency": summary["frequency"].to_numpy() + 1,
            "days_since_first_order": np.floor(summary["T"].to_numpy()),
            "recency_days": np.floor(summary["T"].to_numpy() - summary["recency"].to_numpy()),
            "avg_order_value": order_value,
            "as_of_date": pd.Timestamp("2025-06-30"),
        }
    )
    holdout = features.assign(
        horizon_days=90,
        orders_in_horizon=future_orders,
        revenue_in_horizon=future_orders * order_value,
    )
    return {"value_holdout_set": holdout, "customer_features": features}


def test_value_model_is_chosen_among_btyd_variants_and_the_baseline_by_holdout():
    rng = np.random.default_rng(3)
    shop = simulate_mbgnbd(6000, 0.3, 30.0, 0.9, 3.0, rng.uniform(60, 540, 6000), rng, 90)
    result = CustomerValue(horizon_days=90).train(
        _value_frames(shop, shop["future_purchases"].to_numpy()), None
    )
    assert set(result.metrics) == {"BG/NBD", "MBG/NBD", "Pareto/NBD", HISTORICAL_RATE}
    chosen = result.candidate
    assert chosen == min(result.metrics, key=lambda name: result.metrics[name]["revenue_mae"])
    assert chosen != HISTORICAL_RATE and result.baselines == [HISTORICAL_RATE]
    assert result.model["chosen_model"] == chosen and result.gate().promoted
    # MBG/NBD data: the totals over the horizon are close, and where one-order customers can
    # leave, P(alive) ranks who buys again; BG/NBD's (1 for every one-order customer) does not.
    for name in ("MBG/NBD", "Pareto/NBD"):
        assert abs(result.metrics[name]["orders_relative_error"]) < 0.08
        assert result.metrics[name]["p_alive_auc"] > 0.7
    assert result.metrics["BG/NBD"]["p_alive_auc"] < 0.5
    assert (
        result.metrics[chosen]["revenue_mae"] < 0.9 * result.metrics[HISTORICAL_RATE]["revenue_mae"]
    )
    # Scores come from the chosen model.
    scored = CustomerValue(horizon_days=90).score(
        result.model, _value_frames(shop, shop["future_purchases"].to_numpy())
    )
    assert scored.scores["p_alive"].between(0, 1).all()


def test_a_winning_baseline_is_chosen_promoted_and_scores():
    """Clockwork customers who never leave: their historical rate is the truth, so the baseline
    beats every BTYD variant; it is chosen (not refused), and it can score."""
    rng = np.random.default_rng(4)
    n = 400
    gap = rng.choice([7.0, 14.0, 30.0, 60.0], n)
    age = rng.uniform(200, 400, n)
    repeats = np.floor(age / gap)
    summary = pd.DataFrame({"frequency": repeats, "recency": repeats * gap, "T": age})
    future = np.floor((age + 90) / gap) - repeats
    frames = _value_frames(summary, future)
    result = CustomerValue(horizon_days=90).train(frames, None)
    assert result.candidate == HISTORICAL_RATE and result.baselines == []
    decision = result.gate()
    assert decision.promoted, decision.reason
    scored = CustomerValue(horizon_days=90).score(result.model, frames).scores
    assert scored["p_alive"].isna().all() and (scored["expected_orders"] > 0).all()
    assert scored["expected_next_order_date"].notna().all()


def test_versions_saved_before_the_variants_still_load():
    model = CustomerValueModel(horizon_days=90).fit(
        pd.DataFrame(
            {
                "frequency": [0, 2, 5],
                "recency": [0, 40, 90],
                "T": [100, 100, 100],
                "monetary_value": [10.0, 20.0, 30.0],
            }
        )
    )
    state = model.__getstate__()
    state["bgnbd_"] = state.pop("orders_")
    del state["orders_model"]
    old = CustomerValueModel.__new__(CustomerValueModel)
    old.__setstate__(state)
    assert old.orders_model == "BG/NBD"
    assert np.isfinite(
        old.predict(
            pd.DataFrame({"frequency": [1], "recency": [5], "T": [50], "monetary_value": [12.0]})
        )["expected_orders"]
    ).all()
