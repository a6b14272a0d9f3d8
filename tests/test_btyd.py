"""BG/NBD and Gamma-Gamma maths (ml.btyd), checked against simulated customers.

Likelihood, gradient and parameter recovery, conditional expectations (future purchases, days to
the next purchase), P(alive), the simulators, Gamma-Gamma, and invalid input. The platform's
customer-value helpers (ml.clv) are tested in tests/test_clv.py.

Everything is simulated from the models themselves with known parameters, so the fits can be
compared with the truth. Tolerances were set from the spread over 30 seeds at these sizes
(20,000 customers): relative standard deviations of the estimates are about r 1.4%, alpha 1.9%,
a 3.7%, b 4.5%, p 3.6%, q 1.5%, v 4.8%; of the 365-day total orders 1.3% and revenue 1.7%. Each
tolerance below is at least ~3.5 standard deviations; a wrong likelihood (swapped T / t_x, a
missing dropout term, b + x instead of b + x - 1) misses them by far more.
"""

import btyd_helpers
import numpy as np
import pandas as pd
import pytest
from btyd_helpers import HORIZON, N_CUSTOMERS, TRUE_BG, TRUE_GG, _model, _relative_errors
from scipy import integrate
from scipy.optimize import minimize
from scipy.special import beta as beta_fn
from scipy.special import betaln, gammaln
from scipy.special import gamma as gamma_fn

from ml.btyd import BetaGeoModel, GammaGammaModel, simulate_bgnbd, simulate_gamma_gamma
from ml.btyd.bgnbd import _bgnbd_log_likelihood
from ml.btyd.conditional_purchases import _bgnbd_conditional_purchases_series
from ml.clv import naive_rate_baseline

BG_TOLERANCE = {"r": 0.10, "alpha": 0.10, "a": 0.20, "b": 0.20}  # relative

simulated = btyd_helpers.simulated  # the module-scoped fixture, shared with tests/test_clv.py


@pytest.fixture(scope="module")
def bgnbd(simulated) -> BetaGeoModel:
    return BetaGeoModel().fit(simulated["frequency"], simulated["recency"], simulated["T"])


# ---------------------------------------------------------------------------------- simulator


def test_simulator_matches_closed_forms():
    """P(no repeat purchase by t) = (alpha / (alpha + t))^r, independent of the fitting code."""
    rng = np.random.default_rng(5)
    sim = simulate_bgnbd(40_000, **TRUE_BG, T=200.0, rng=rng)
    expected_zero = (TRUE_BG["alpha"] / (TRUE_BG["alpha"] + 200.0)) ** TRUE_BG["r"]
    assert (sim["frequency"] == 0).mean() == pytest.approx(expected_zero, abs=0.01)
    assert np.all(sim["recency"] <= sim["T"])
    assert np.all(sim.loc[sim["frequency"] == 0, "recency"] == 0)
    assert sim.loc[sim["frequency"] == 0, "alive"].all()  # dropout only follows a purchase

    means = simulate_gamma_gamma(np.full(40_000, 3), **TRUE_GG, rng=rng)
    population_mean = TRUE_GG["p"] * TRUE_GG["v"] / (TRUE_GG["q"] - 1)
    assert means.mean() == pytest.approx(population_mean, rel=0.03)
    assert np.isnan(simulate_gamma_gamma([0, 2], **TRUE_GG, rng=rng)[0])


# ---------------------------------------------------------------------------------- BG/NBD fit


def test_log_likelihood_matches_the_paper_formula(simulated):
    """The log-space likelihood equals the plain product formula of Fader, Hardie & Lee (2005)."""
    r, alpha, a, b = 0.7, 25.0, 0.9, 3.0
    rows = simulated.iloc[:300]
    rows = rows[rows["frequency"] < 40]  # keep the plain formula inside float range
    x, t_x, T = (rows[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    plain = (
        beta_fn(a, b + x)
        / beta_fn(a, b)
        * gamma_fn(r + x)
        * alpha**r
        / gamma_fn(r)
        * (
            (alpha + T) ** -(r + x)
            + (x > 0) * a / np.maximum(b + x - 1, 1e-12) * (alpha + t_x) ** -(r + x)
        )
    )
    ours = _model(r, alpha, a, b).log_likelihood(x, t_x, T)
    np.testing.assert_allclose(ours, np.log(plain), rtol=1e-10)


def test_gradient_matches_finite_differences(simulated):
    x, t_x, T = (simulated[c].to_numpy(float)[:2000] for c in ("frequency", "recency", "T"))
    params = np.array([0.7, 25.0, 0.9, 3.0])
    _, gradient = _bgnbd_log_likelihood(params, x, t_x, T)
    for i in range(4):
        step = np.zeros(4)
        step[i] = 1e-6 * params[i]
        numeric = (
            _bgnbd_log_likelihood(params + step, x, t_x, T)[0].sum()
            - _bgnbd_log_likelihood(params - step, x, t_x, T)[0].sum()
        ) / (2 * step[i])
        assert gradient[i].sum() == pytest.approx(numeric, rel=1e-5)


def test_bgnbd_recovers_parameters(simulated, bgnbd):
    errors = _relative_errors(bgnbd.params_, TRUE_BG)
    print("BG/NBD fitted", bgnbd.params_, "relative errors", errors)
    assert bgnbd.converged_
    assert all(abs(errors[name]) < BG_TOLERANCE[name] for name in TRUE_BG), errors
    # it is the maximum: the true parameters fit the sample no better
    truth = _model(**TRUE_BG).log_likelihood(
        simulated["frequency"], simulated["recency"], simulated["T"]
    )
    assert bgnbd.log_likelihood_ >= truth.sum()


def _wrong_log_likelihood(params, x, t_x, T, slip):
    """The BG/NBD log-likelihood with a classic slip, for the test below."""
    r, alpha, a, b = params
    alive = -(r + x) * np.log(alpha + (t_x if slip == "T and t_x swapped" else T))
    last = t_x if slip != "T and t_x swapped" else T
    shift = 0.0 if slip == "b + x for b + x - 1" else 1.0
    dropped = np.where(
        x > 0,
        np.log(a) - np.log(np.maximum(b + x - shift, 1e-12)) - (r + x) * np.log(alpha + last),
        -np.inf,
    )
    return (
        gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    ) + np.logaddexp(alive, dropped)


@pytest.mark.parametrize("slip", ["T and t_x swapped", "b + x for b + x - 1"])
def test_recovery_tolerance_rejects_a_wrong_likelihood(simulated, slip):
    """The tolerances have teeth: maximizing a subtly wrong likelihood misses them."""
    x, t_x, T = (simulated[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    result = minimize(
        lambda log_params: -_wrong_log_likelihood(np.exp(log_params), x, t_x, T, slip).mean(),
        np.log([1.0, 30.0, 1.0, 1.0]),
        method="L-BFGS-B",
        bounds=[(-10, 12)] * 4,
    )
    wrong = dict(zip(TRUE_BG, np.exp(result.x), strict=True))
    errors = _relative_errors(wrong, TRUE_BG)
    print(slip, wrong, errors)
    assert not all(abs(errors[name]) < BG_TOLERANCE[name] for name in TRUE_BG)


def test_penalizer_shrinks_parameters(simulated, bgnbd):
    rows = simulated.iloc[:5000]
    penalized = BetaGeoModel(penalizer=0.001).fit(rows["frequency"], rows["recency"], rows["T"])
    assert penalized.alpha_ < 0.9 * bgnbd.alpha_
    assert sum(v**2 for v in penalized.params_.values()) < sum(v**2 for v in bgnbd.params_.values())


# ---------------------------------------------------------------------------------- predictions


def test_expected_purchases_match_simulated_future(simulated, bgnbd):
    x, t_x, T = simulated["frequency"], simulated["recency"], simulated["T"]
    predicted = bgnbd.expected_purchases(HORIZON, x, t_x, T)
    actual = simulated["future_purchases"].to_numpy()
    assert predicted.sum() / actual.sum() - 1 == pytest.approx(0.0, abs=0.05)

    # calibrated across the range, not only in total: deciles of the prediction
    decile = pd.qcut(predicted, 10, labels=False, duplicates="drop")
    by_decile = pd.DataFrame({"p": predicted, "a": actual}).groupby(decile).mean()
    top = by_decile.iloc[-1]
    assert top["p"] == pytest.approx(top["a"], rel=0.08)
    np.testing.assert_allclose(by_decile["p"], by_decile["a"], atol=0.15, rtol=0.1)

    # and per customer better than "each customer keeps their historical rate"
    baseline = naive_rate_baseline(simulated, HORIZON)["expected_orders"]
    baseline_with_first = naive_rate_baseline(simulated, HORIZON, include_first_order=True)
    model_mae = np.abs(predicted - actual).mean()
    assert model_mae < 0.8 * np.abs(baseline - actual).mean()
    assert model_mae < 0.8 * np.abs(baseline_with_first["expected_orders"] - actual).mean()


def test_p_alive(simulated, bgnbd):
    model = _model(**TRUE_BG)
    assert np.all(model.p_alive([0, 0, 0], [0, 0, 0], [0, 50, 700]) == 1.0)
    # fixed x and T: the longer since the last purchase, the less likely alive
    recency = np.array([365, 300, 200, 100, 30, 0], dtype=float)
    for x in (1, 3, 10):
        p = model.p_alive(np.full(6, x), recency, np.full(6, 365.0))
        assert np.all(np.diff(p) < 0) and np.all((p > 0) & (p < 1))
    # just bought: alive unless they dropped right after, (b + x - 1) / (a + b + x - 1)
    a, b = TRUE_BG["a"], TRUE_BG["b"]
    assert model.p_alive(2, 100, 100)[0] == pytest.approx((b + 1) / (a + b + 1))
    # calibrated against the simulated truth
    p = bgnbd.p_alive(simulated["frequency"], simulated["recency"], simulated["T"])
    alive = simulated["alive"].to_numpy()
    assert p.mean() == pytest.approx(alive.mean(), abs=0.02)
    bins = np.digitize(p, [0.2, 0.5, 0.8, 0.999])
    for level in np.unique(bins):
        assert p[bins == level].mean() == pytest.approx(alive[bins == level].mean(), abs=0.05)


def _reference_given_alive(t, x, T, r, alpha, a, b):
    """E[purchases in t | alive] by adaptive integration over log p (independent of ml.btyd)."""
    shape, scale, b_post = r + x, alpha + T, b + x

    def integrand(log_p):
        p = np.exp(log_p)
        given_p = -np.expm1(-shape * np.log1p(p * t / scale)) / p
        return given_p * np.exp(a * log_p + (b_post - 1) * np.log1p(-p) - betaln(a, b_post))

    def integrand_near_one(log_q):
        p = 1 - np.exp(log_q)
        given_p = -np.expm1(-shape * np.log1p(p * t / scale)) / p
        return given_p * np.exp((a - 1) * np.log(p) + b_post * log_q - betaln(a, b_post))

    low = max(-700.0, np.log(1e-300) / a)
    kwargs = {"limit": 500, "epsabs": 0, "epsrel": 1e-11}
    return (
        integrate.quad(integrand, low, np.log(0.5), **kwargs)[0]
        + integrate.quad(integrand_near_one, -700, np.log(0.5), **kwargs)[0]
    )


@pytest.mark.parametrize(
    "params",
    [
        (0.5, 30.0, 0.8, 2.5),
        (2.0, 200.0, 3.0, 10.0),
        (0.05, 30.0, 0.05, 0.05),
        (3.0, 30.0, 50, 0.3),
    ],
)
def test_expected_purchases_formula_and_fallback(params):
    """hyp2f1 where it works, the positive series where it does not; both match integration."""
    model = _model(*params)
    x = np.array([0, 1, 3, 10, 50, 300, 1000, 0, 2, 30], dtype=float)
    T = np.array([100, 100, 300, 700, 700, 700, 100, 3000, 3000, 3000], dtype=float)
    t_x = np.where(x > 0, T, 0.0)  # p_alive depends on this, the part given alive does not
    for t in (1.0, 30.0, 365.0, 3650.0):
        given_alive = model.expected_purchases(t, x, t_x, T) / model.p_alive(x, t_x, T)
        series = _bgnbd_conditional_purchases_series(np.full(x.size, t), x, T, *params)
        reference = [
            _reference_given_alive(t, xi, Ti, *params) for xi, Ti in zip(x, T, strict=True)
        ]
        np.testing.assert_allclose(given_alive, reference, rtol=1e-7)
        np.testing.assert_allclose(series, reference, rtol=1e-7)
    assert np.all(model.expected_purchases(0.0, x, t_x, T) == 0.0)


def test_expected_purchases_continuous_through_a_equal_one():
    """1 / (a - 1) in the closed form: a = 1 itself must give the limit, between its neighbours."""
    x, t_x, T = np.array([0, 2, 8]), np.array([0, 150, 300]), np.array([400, 400, 400])
    values = [
        _model(0.5, 30.0, a, 2.5).expected_purchases(365, x, t_x, T)
        for a in (0.998, 1 - 1e-9, 1.0, 1 + 1e-9, 1.002)
    ]
    assert all(np.all(np.isfinite(v)) for v in values)
    assert np.all(values[0] > values[2]) and np.all(values[2] > values[4])  # more dropout
    np.testing.assert_allclose(values[1], values[2], rtol=1e-8)
    np.testing.assert_allclose(values[3], values[2], rtol=1e-8)


def test_expected_days_to_next_purchase():
    model = _model(**TRUE_BG)
    days = model.expected_days_to_next_purchase([0, 1, 4], [0, 50, 90], [100, 100, 100])
    assert days[0] == np.inf  # r + x = 0.5 <= 1: E[1 / lambda] diverges
    assert days[1] == pytest.approx(130 / 0.5)
    assert days[2] == pytest.approx(130 / 3.5)
    capped = model.expected_days_to_next_purchase([0, 4], [0, 90], [100, 100], cap_days=365)
    assert capped.tolist() == [365.0, pytest.approx(130 / 3.5)]
    assert np.isfinite(_model(1.5, 30, 0.8, 2.5).expected_days_to_next_purchase(0, 0, 100)[0])

    # against simulated waiting times of customers still alive (x >= 3: finite variance)
    rng = np.random.default_rng(11)
    sim = simulate_bgnbd(
        N_CUSTOMERS, **TRUE_BG, T=rng.uniform(100, 700, N_CUSTOMERS), rng=rng, future_days=20_000
    )
    chosen = sim[sim["alive"] & (sim["frequency"] >= 3)]
    predicted = model.expected_days_to_next_purchase(
        chosen["frequency"], chosen["recency"], chosen["T"]
    )
    assert chosen["days_to_next_purchase"].notna().all()
    assert chosen["days_to_next_purchase"].mean() == pytest.approx(predicted.mean(), rel=0.12)


# ---------------------------------------------------------------------------------- Gamma-Gamma


def test_gamma_gamma_recovers_parameters():
    """On repeat buyers with the mean of their x repeat orders (the lifetimes convention)."""
    rng = np.random.default_rng(3)
    sim = simulate_bgnbd(N_CUSTOMERS, **TRUE_BG, T=rng.uniform(100, 700, N_CUSTOMERS), rng=rng)
    x = sim.loc[sim["frequency"] > 0, "frequency"].to_numpy()
    means = simulate_gamma_gamma(x, **TRUE_GG, rng=rng)
    model = GammaGammaModel().fit(x, means)
    errors = _relative_errors(model.params_, TRUE_GG)
    print("Gamma-Gamma fitted", model.params_, "n", x.size, "relative errors", errors)
    assert model.converged_
    assert abs(errors["p"]) < 0.20
    assert abs(errors["q"]) < 0.10
    assert abs(errors["v"]) < 0.20


def test_gamma_gamma_conditional_value():
    model = GammaGammaModel()
    model.p_, model.q_, model.v_ = 6.0, 4.0, 15.0
    population = 6.0 * 15.0 / 3.0
    values = model.conditional_expected_average_value(
        [0, 3, 3, 1, 10, 100], [50.0, np.nan, -1.0, 50.0, 50.0, 50.0]
    )
    assert values[:3].tolist() == [population] * 3
    assert values[3] == pytest.approx(6 * (15 + 50) / (6 + 3))
    # shrinks towards the population mean, less so the more orders the average is over
    assert population < values[3] < values[4] < values[5] < 50.0


# ---------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        ([], [], [], "empty input"),
        ([-1, 2], [0, 5], [10, 10], "frequency contains negative"),
        ([1, 2], [-3, 5], [10, 10], "recency contains negative"),
        ([1, 2], [3, 5], [10, -10], "T contains negative"),
        ([1, 2], [3, 15], [10, 10], "recency exceeds T"),
        ([1.5, 2], [3, 5], [10, 10], "whole numbers"),
        ([1, np.nan], [3, 5], [10, 10], "missing or infinite"),
        ([0, 2], [3, 5], [10, 10], "recency must be 0 where frequency is 0"),
        ([1, 2, 3], [3, 5], [10, 10], "lengths differ"),
    ],
)
def test_bgnbd_rejects_invalid_input(frequency, recency, T, message):
    with pytest.raises(ValueError, match=message):
        BetaGeoModel().fit(frequency, recency, T)
    with pytest.raises(ValueError, match=message):
        _model(**TRUE_BG).p_alive(frequency, recency, T)
