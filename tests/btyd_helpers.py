"""Shared by tests/test_btyd.py and tests/test_clv.py: the true BG/NBD and Gamma-Gamma parameters,
a BG/NBD model with given parameters, and the module-scoped `simulated` fixture (20,000 customers
with known parameters, their next 365 days' orders and their spend). Also the true MBG/NBD and
Pareto/NBD parameters and those models with given parameters (tests/test_btyd.py).
"""

import numpy as np
import pandas as pd
import pytest

from ml.btyd import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel, simulate_bgnbd

TRUE_BG = {"r": 0.5, "alpha": 30.0, "a": 0.8, "b": 2.5}  # alpha in days
TRUE_GG = {"p": 6.0, "q": 4.0, "v": 15.0}
TRUE_MBG = {"r": 0.5, "alpha": 30.0, "a": 0.8, "b": 2.5}  # alpha in days
TRUE_PNBD = {"r": 0.5, "alpha": 30.0, "s": 1.2, "beta": 150.0}  # alpha, beta in days
HORIZON = 365
N_CUSTOMERS = 20_000


def _model(r: float, alpha: float, a: float, b: float) -> BetaGeoModel:
    """A BG/NBD model with given parameters (no fit)."""
    model = BetaGeoModel()
    model.r_, model.alpha_, model.a_, model.b_ = r, alpha, a, b
    return model


def _mbg_model(r: float, alpha: float, a: float, b: float) -> ModifiedBetaGeoModel:
    """An MBG/NBD model with given parameters (no fit)."""
    model = ModifiedBetaGeoModel()
    model.r_, model.alpha_, model.a_, model.b_ = r, alpha, a, b
    return model


def _pnbd_model(r: float, alpha: float, s: float, beta: float) -> ParetoNBDModel:
    """A Pareto/NBD model with given parameters (no fit)."""
    model = ParetoNBDModel()
    model.r_, model.alpha_, model.s_, model.beta_ = r, alpha, s, beta
    return model


def _relative_errors(fitted: dict[str, float], truth: dict[str, float]) -> dict[str, float]:
    return {name: fitted[name] / value - 1.0 for name, value in truth.items()}


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    """20,000 customers aged 100-700 days, the next 365 days' orders, and their spend.

    Spend: each customer has one rate nu ~ Gamma(q, v); monetary_value is the mean of their
    frequency + 1 past orders (as avg_order_value on the platform), future_revenue the total of
    their future orders, all Gamma(p, nu).
    """
    rng = np.random.default_rng(20240601)
    ages = rng.uniform(100, 700, N_CUSTOMERS)
    sim = simulate_bgnbd(N_CUSTOMERS, **TRUE_BG, T=ages, rng=rng, future_days=HORIZON)
    nu = rng.gamma(TRUE_GG["q"], 1.0 / TRUE_GG["v"], N_CUSTOMERS)
    orders = sim["frequency"].to_numpy() + 1
    future = sim["future_purchases"].to_numpy()
    sim["monetary_value"] = rng.gamma(TRUE_GG["p"] * orders, 1.0 / (nu * orders))
    sim["future_revenue"] = np.where(
        future > 0, rng.gamma(TRUE_GG["p"] * np.maximum(future, 1), 1.0 / nu), 0.0
    )
    sim.index = pd.Index([f"c{i:05d}" for i in range(N_CUSTOMERS)], name="customer_id")
    return sim
