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

from ml.btyd import BetaGeoModel, GammaGammaModel
from ml.clv import CustomerValueModel, naive_rate_baseline, summary_from_features, value_metrics

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
