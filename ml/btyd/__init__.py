"""The "buy till you die" models: BG/NBD, MBG/NBD, Pareto/NBD for orders, Gamma-Gamma for value.

Order-count models, all with the same interface (fit(frequency, recency, T), params_,
log_likelihood, p_alive, expected_purchases(t, frequency, recency, T)):
    BetaGeoModel          BG/NBD: dropout right after a repeat purchase (Fader, Hardie & Lee
                          2005); one-order customers are alive with probability 1;
    ModifiedBetaGeoModel  MBG/NBD: the same with a dropout chance right after the first order
                          too (Batislam, Denizel & Filiztekin 2007), so P(alive) < 1 for all;
    ParetoNBDModel        Pareto/NBD: exponential lifetimes, dropout at any time (Schmittlein,
                          Morrison & Colombo 1987); no expected_days_to_next_purchase.

Units: every duration (recency, T, horizons, the scales ``alpha`` and ``beta``, waiting times) is in
DAYS. Monetary amounts are in the shop's currency, as given.

Per-customer summary (the usual BTYD convention)
    frequency  x    number of REPEAT purchases (orders after the first one);
    recency    t_x  days from the first purchase to the last one (0 when x = 0);
    T               days from the first purchase to the as-of date (so 0 <= t_x <= T);
    monetary_value  the customer's average order value.

The maths is documented with the code: :mod:`ml.btyd.bgnbd` (likelihood, P(alive), expected
purchases and wait), :mod:`ml.btyd.conditional_purchases` (the expected-purchases fallback),
:mod:`ml.btyd.mbgnbd`, :mod:`ml.btyd.pareto_nbd`,
:mod:`ml.btyd.gamma_gamma` (spend) and :mod:`ml.btyd.simulate` (simulated customers).
"""

from ml.btyd.bgnbd import BetaGeoModel
from ml.btyd.gamma_gamma import GammaGammaModel
from ml.btyd.mbgnbd import ModifiedBetaGeoModel
from ml.btyd.pareto_nbd import ParetoNBDModel
from ml.btyd.simulate import (
    simulate_bgnbd,
    simulate_gamma_gamma,
    simulate_mbgnbd,
    simulate_pareto_nbd,
)

__all__ = [
    "BetaGeoModel",
    "GammaGammaModel",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "simulate_bgnbd",
    "simulate_gamma_gamma",
    "simulate_mbgnbd",
    "simulate_pareto_nbd",
]
