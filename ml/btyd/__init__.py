"""The "buy till you die" models: BG/NBD for the number of orders, Gamma-Gamma for their value.

Units: every duration (recency, T, horizons, the BG/NBD scale ``alpha``, waiting times) is in
DAYS. Monetary amounts are in the shop's currency, as given.

Per-customer summary (the usual BTYD convention)
    frequency  x    number of REPEAT purchases (orders after the first one);
    recency    t_x  days from the first purchase to the last one (0 when x = 0);
    T               days from the first purchase to the as-of date (so 0 <= t_x <= T);
    monetary_value  the customer's average order value.

The maths is documented with the code: :mod:`ml.btyd.bgnbd` (likelihood, P(alive), expected
purchases and wait), :mod:`ml.btyd.conditional_purchases` (the expected-purchases fallback),
:mod:`ml.btyd.gamma_gamma` (spend) and :mod:`ml.btyd.simulate` (simulated customers).
"""

from ml.btyd.bgnbd import BetaGeoModel
from ml.btyd.gamma_gamma import GammaGammaModel
from ml.btyd.simulate import simulate_bgnbd, simulate_gamma_gamma

__all__ = ["BetaGeoModel", "GammaGammaModel", "simulate_bgnbd", "simulate_gamma_gamma"]
