"""BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma maths (ml.btyd), checked against simulated customers.

Likelihood, gradient and parameter recovery, conditional expectations (future purchases, days to
the next purchase), P(alive), the simulators, Gamma-Gamma, and invalid input. The platform's
customer-value helpers (ml.clv) are tested in tests/test_clv.py.

Everything is simulated from the models themselves with known parameters, so the fits can be
compared with the truth. Tolerances were set from the spread over 30 seeds at these sizes
(20,000 customers): relative standard deviations of the estimates are about r 1.4%, alpha 1.9%,
a 3.7%, b 4.5%, p 3.6%, q 1.5%, v 4.8%; of the 365-day total orders 1.3% and revenue 1.7%. Each
tolerance below is at least ~3.5 standard deviations; a wrong likelihood (swapped T / t_x, a
missing dropout term, b + x instead of b + x - 1) misses them by far more.

MBG/NBD and Pareto/NBD (20,000 customers each, spread over 8-10 seeds): MBG/NBD r 4.1%, alpha
2.5%, a 4.9%, b 11%; Pareto/NBD (ages 200-1000 days) r 2.0%, alpha 1.7%, s 3.4%, beta 6.3%.
Their P(alive) and expected purchases are also checked against brute-force integration of the
individual-level model over the parameter distributions (a trapezoid rule on log lambda and
logit p / log mu, which converges geometrically for these smooth, fast-decaying integrands).
"""

import warnings

import btyd_helpers
import numpy as np
import pandas as pd
import pytest
from btyd_helpers import (
    HORIZON,
    N_CUSTOMERS,
    TRUE_BG,
    TRUE_GG,
    TRUE_MBG,
    TRUE_PNBD,
    _mbg_model,
    _model,
    _pnbd_model,
    _relative_errors,
)
from scipy import integrate
from scipy.optimize import minimize
from scipy.special import beta as beta_fn
from scipy.special import betaln, gammaln, logsumexp
from scipy.special import gamma as gamma_fn

from ml.btyd import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    simulate_bgnbd,
    simulate_gamma_gamma,
    simulate_mbgnbd,
    simulate_pareto_nbd,
)
from ml.btyd.bgnbd import _bgnbd_log_likelihood
from ml.btyd.conditional_purchases import _bgnbd_conditional_purchases_series
from ml.btyd.mbgnbd import _mbgnbd_log_likelihood
from ml.btyd.pareto_nbd import _pareto_nbd_log_likelihood
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


# ---------------------------------------------------------------------------------- MBG/NBD

MBG_TOLERANCE = {"r": 0.15, "alpha": 0.10, "a": 0.20, "b": 0.40}  # relative, >= 3.5 sd
PNBD_TOLERANCE = {"r": 0.10, "alpha": 0.10, "s": 0.20, "beta": 0.30}  # relative, >= 4.5 sd
PNBD_AGES = (200.0, 1000.0)


@pytest.fixture(scope="module")
def mbg_simulated() -> pd.DataFrame:
    rng = np.random.default_rng(20240602)
    ages = rng.uniform(100, 700, N_CUSTOMERS)
    return simulate_mbgnbd(N_CUSTOMERS, **TRUE_MBG, T=ages, rng=rng, future_days=HORIZON)


@pytest.fixture(scope="module")
def mbgnbd(mbg_simulated) -> ModifiedBetaGeoModel:
    sim = mbg_simulated
    return ModifiedBetaGeoModel().fit(sim["frequency"], sim["recency"], sim["T"])


def _grid(low: float, high: float, step: float) -> np.ndarray:
    return np.arange(low, high + step, step)


def _log_lambda_grid(r, alpha, x, t_x, T):
    """log lambda nodes covering the posterior under both Gamma(r + x, alpha + t_x or T)."""
    shape = r + x
    step = min(0.1, 0.25 / np.sqrt(shape))
    low = np.log(shape / (alpha + T)) - 40.0 / shape - 3.0
    return _grid(low, np.log(40.0 * (shape + 3.0) / (alpha + t_x)), step), step


def _mbg_brute_force(t, x, t_x, T, r, alpha, a, b):
    """(log L, P(alive), E[purchases in t]) by a trapezoid rule over log lambda and logit p.

    The MBG/NBD individual-level model, integrated over lambda ~ Gamma(r, alpha) and
    p ~ Beta(a, b) without any closed form: given lambda and p, the customer survived x + 1
    coins and bought x times ((1-p)^(x+1) lambda^x e^(-lambda T)) or left right after the last
    purchase (p (1-p)^x lambda^x e^(-lambda t_x)); alive, they buy (1 - e^(-lambda p t)) / p
    more in t days.
    """
    u, du = _log_lambda_grid(r, alpha, x, t_x, T)
    w, dw = _grid(-40.0 / a - 5.0, 40.0 / (b + x) + 5.0, 0.1), 0.1
    u, w = u[:, None], w[None, :]
    lam = np.exp(u)
    log_p, log_q = -np.logaddexp(0.0, -w), -np.logaddexp(0.0, w)  # log p, log(1 - p)
    log_prior = (r * np.log(alpha) + r * u - alpha * lam - gammaln(r)) + (
        a * log_p + b * log_q - betaln(a, b)
    )  # densities times the Jacobians lambda and p (1 - p)
    alive = log_prior + (x + 1) * log_q + x * u - lam * T
    dead = log_prior + log_p + x * log_q + x * u - lam * t_x
    p = np.exp(log_p)
    future = alive + np.log(-np.expm1(-lam * p * t) / p)
    log_step = np.log(du * dw)
    log_l = np.logaddexp(logsumexp(alive), logsumexp(dead)) + log_step
    return (
        log_l,
        np.exp(logsumexp(alive) + log_step - log_l),
        np.exp(logsumexp(future) + log_step - log_l),
    )


def test_mbgnbd_log_likelihood_matches_the_paper_formula(mbg_simulated):
    """Batislam et al.'s product formula, and brute-force integration of the individual model."""
    r, alpha, a, b = 0.7, 25.0, 0.9, 3.0
    rows = mbg_simulated.iloc[:300]
    rows = rows[rows["frequency"] < 40]  # keep the plain formula inside float range
    x, t_x, T = (rows[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    plain = (
        beta_fn(a, b + x + 1)
        / beta_fn(a, b)
        * gamma_fn(r + x)
        * alpha**r
        / gamma_fn(r)
        * ((alpha + T) ** -(r + x) + a / (b + x) * (alpha + t_x) ** -(r + x))
    )
    ours = _mbg_model(r, alpha, a, b).log_likelihood(x, t_x, T)
    np.testing.assert_allclose(ours, np.log(plain), rtol=1e-10)
    for xi, txi, Ti in [(0, 0, 200), (2, 40, 300), (12, 500, 700), (0, 0, 0)]:
        reference = _mbg_brute_force(1.0, xi, txi, Ti, r, alpha, a, b)[0]
        assert _mbg_model(r, alpha, a, b).log_likelihood(xi, txi, Ti)[0] == pytest.approx(
            reference, rel=1e-9, abs=1e-9
        )


def test_mbgnbd_gradient_matches_finite_differences(mbg_simulated):
    x, t_x, T = (mbg_simulated[c].to_numpy(float)[:2000] for c in ("frequency", "recency", "T"))
    params = np.array([0.7, 25.0, 0.9, 3.0])
    _, gradient = _mbgnbd_log_likelihood(params, x, t_x, T)
    for i in range(4):
        step = np.zeros(4)
        step[i] = 1e-6 * params[i]
        numeric = (
            _mbgnbd_log_likelihood(params + step, x, t_x, T)[0].sum()
            - _mbgnbd_log_likelihood(params - step, x, t_x, T)[0].sum()
        ) / (2 * step[i])
        assert gradient[i].sum() == pytest.approx(numeric, rel=1e-5)


def test_mbgnbd_recovers_parameters(mbg_simulated, mbgnbd):
    sim = mbg_simulated
    errors = _relative_errors(mbgnbd.params_, TRUE_MBG)
    print("MBG/NBD fitted", mbgnbd.params_, "relative errors", errors)
    assert mbgnbd.converged_
    assert all(abs(errors[name]) < MBG_TOLERANCE[name] for name in TRUE_MBG), errors
    truth = _mbg_model(**TRUE_MBG).log_likelihood(sim["frequency"], sim["recency"], sim["T"])
    assert mbgnbd.log_likelihood_ >= truth.sum()
    # teeth: the BG/NBD likelihood (no dropout at the first order) misses on the same data
    wrong = BetaGeoModel().fit(sim["frequency"], sim["recency"], sim["T"]).params_
    errors = _relative_errors(wrong, TRUE_MBG)
    print("BG/NBD on MBG/NBD data", wrong, errors)
    assert not all(abs(errors[name]) < MBG_TOLERANCE[name] for name in TRUE_MBG)


@pytest.mark.parametrize(
    "params", [(0.5, 30.0, 0.8, 2.5), (2.0, 100.0, 1.5, 4.0), (0.7, 40.0, 1.0, 3.0)]
)
def test_mbgnbd_predictions_match_brute_force_integration(params):
    """P(alive) and E[purchases] against integration of the individual-level model.

    a = 1 exercises the series fallback (the closed form divides by a - 1).
    """
    model = _mbg_model(*params)
    points = [(0, 0, 200), (1, 50, 300), (3, 250, 300), (10, 100, 700), (0, 0, 0), (40, 650, 700)]
    for t in (30.0, 365.0):
        for x, t_x, T in points:
            _, p_alive, expected = _mbg_brute_force(t, x, t_x, T, *params)
            assert model.p_alive(x, t_x, T)[0] == pytest.approx(p_alive, rel=1e-8)
            assert model.expected_purchases(t, x, t_x, T)[0] == pytest.approx(expected, rel=1e-7)
    assert np.all(model.expected_purchases(0.0, [0, 3], [0, 20], [10, 30]) == 0.0)


def test_mbgnbd_one_order_customers_can_be_gone(mbg_simulated, mbgnbd):
    r, alpha, a, b = TRUE_MBG.values()
    model = _mbg_model(**TRUE_MBG)
    p = model.p_alive([0, 0, 0], [0, 0, 0], [0, 50, 700])
    # the coin after the first order: E[1 - p] = b / (a + b) right away, less as time passes
    assert p[0] == pytest.approx(b / (a + b))
    assert p[2] == pytest.approx(1 / (1 + a / b * ((alpha + 700) / alpha) ** r))
    assert np.all(np.diff(p) < 0) and np.all(p < 1)
    # just bought again: alive unless they dropped right after, (b + x) / (a + b + x)
    assert model.p_alive(2, 100, 100)[0] == pytest.approx((b + 2) / (a + b + 2))
    # calibrated against the simulated truth, one-order customers included (with the true
    # parameters: the fitted ones move P(alive) of one-order customers by a few points, as the
    # data hardly separate "gone after the first order" from "a slow buyer")
    sim = mbg_simulated
    x, t_x, T = sim["frequency"], sim["recency"], sim["T"]
    p = model.p_alive(x, t_x, T)
    alive = sim["alive"].to_numpy()
    assert p.mean() == pytest.approx(alive.mean(), abs=0.015)
    once = x.to_numpy() == 0
    assert alive[once].mean() < 0.9  # the simulation has gone one-order customers to catch
    assert p[once].mean() == pytest.approx(alive[once].mean(), abs=0.02)
    bins = np.digitize(p, [0.2, 0.5, 0.8])
    for level in np.unique(bins):
        assert p[bins == level].mean() == pytest.approx(alive[bins == level].mean(), abs=0.04)
    assert mbgnbd.p_alive(x, t_x, T).mean() == pytest.approx(alive.mean(), abs=0.05)


def test_mbgnbd_expected_purchases_match_simulated_future(mbg_simulated, mbgnbd):
    sim = mbg_simulated
    predicted = mbgnbd.expected_purchases(HORIZON, sim["frequency"], sim["recency"], sim["T"])
    actual = sim["future_purchases"].to_numpy()
    assert predicted.sum() / actual.sum() - 1 == pytest.approx(0.0, abs=0.06)
    decile = pd.qcut(predicted, 10, labels=False, duplicates="drop")
    by_decile = pd.DataFrame({"p": predicted, "a": actual}).groupby(decile).mean()
    np.testing.assert_allclose(by_decile["p"], by_decile["a"], atol=0.15, rtol=0.12)


def test_mbgnbd_expected_purchases_continuous_through_a_equal_one():
    x, t_x, T = np.array([0, 2, 8]), np.array([0, 150, 300]), np.array([400, 400, 400])
    values = [
        _mbg_model(0.5, 30.0, a, 2.5).expected_purchases(365, x, t_x, T)
        for a in (0.998, 1 - 1e-9, 1.0, 1 + 1e-9, 1.002)
    ]
    assert all(np.all(np.isfinite(v)) for v in values)
    assert np.all(values[0] > values[2]) and np.all(values[2] > values[4])
    np.testing.assert_allclose(values[1], values[2], rtol=1e-8)
    np.testing.assert_allclose(values[3], values[2], rtol=1e-8)


def test_mbgnbd_expected_days_to_next_purchase():
    model = _mbg_model(**TRUE_MBG)
    days = model.expected_days_to_next_purchase([0, 4], [0, 90], [100, 100])
    assert days[0] == np.inf  # r = 0.5 <= 1
    assert days[1] == pytest.approx(130 / 3.5)


# ---------------------------------------------------------------------------------- Pareto/NBD


@pytest.fixture(scope="module")
def pnbd_simulated() -> pd.DataFrame:
    rng = np.random.default_rng(20240603)
    ages = rng.uniform(*PNBD_AGES, N_CUSTOMERS)
    return simulate_pareto_nbd(N_CUSTOMERS, **TRUE_PNBD, T=ages, rng=rng, future_days=HORIZON)


@pytest.fixture(scope="module")
def pnbd(pnbd_simulated) -> ParetoNBDModel:
    sim = pnbd_simulated
    return ParetoNBDModel().fit(sim["frequency"], sim["recency"], sim["T"])


def _pnbd_brute_force(t, x, t_x, T, r, alpha, s, beta):
    """(log L, P(alive), E[purchases in t]) by a trapezoid rule over log lambda and log mu.

    The Pareto/NBD individual-level model, integrated over lambda ~ Gamma(r, alpha) and
    mu ~ Gamma(s, beta) without any hypergeometric function: given lambda and mu the customer is
    alive at T and bought x times (lambda^x e^(-(lambda+mu) T)) or died at some tau in (t_x, T]
    (lambda^x mu / (lambda+mu) (e^(-(lambda+mu) t_x) - e^(-(lambda+mu) T))); alive, they buy
    lambda (1 - e^(-mu t)) / mu more in t days.
    """
    u, du = _log_lambda_grid(r, alpha, x, t_x, T)
    v_low = np.log(s / (beta + T)) - 40.0 / s - 3.0
    v, dv = _grid(v_low, np.log(40.0 * (s + 3.0) / (beta + t_x)), 0.1), 0.1
    u, v = u[:, None], v[None, :]
    lam, mu = np.exp(u), np.exp(v)
    log_prior = (r * np.log(alpha) + r * u - alpha * lam - gammaln(r)) + (
        s * np.log(beta) + s * v - beta * mu - gammaln(s)
    )
    alive = log_prior + x * u - (lam + mu) * T
    if t_x < T:
        dead = (
            log_prior
            + x * u
            + v
            - np.log(lam + mu)
            - (lam + mu) * t_x
            + np.log(-np.expm1(-(lam + mu) * (T - t_x)))
        )
    else:
        dead = np.full_like(alive, -np.inf)
    future = alive + u + np.log(-np.expm1(-mu * t)) - v
    log_step = np.log(du * dv)
    log_l = np.logaddexp(logsumexp(alive), logsumexp(dead)) + log_step
    return (
        log_l,
        np.exp(logsumexp(alive) + log_step - log_l),
        np.exp(logsumexp(future) + log_step - log_l),
    )


def _pnbd_log_likelihood_by_quadrature(x, t_x, T, r, alpha, s, beta):
    """Fader & Hardie's likelihood with the death-time integral done by adaptive quadrature.

    L = Gamma(r+x) alpha^r beta^s / Gamma(r) [(alpha+T)^-(r+x) (beta+T)^-s
        + s int_{t_x}^T (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau]; no 2F1, any x.
    """
    shape = r + x
    log_const = gammaln(shape) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    log_alive = -shape * np.log(alpha + T) - s * np.log(beta + T)
    log_top = -shape * np.log(alpha + t_x) - (s + 1) * np.log(beta + t_x)

    def scaled(tau):
        return np.exp(-shape * np.log(alpha + tau) - (s + 1) * np.log(beta + tau) - log_top)

    if t_x >= T:
        return log_const + log_alive
    # pieces growing geometrically from t_x, where the integrand (~ (alpha+tau)^-(r+x)) peaks
    edges = np.unique(np.minimum(t_x + (alpha + t_x) / shape * 4.0 ** np.arange(-1, 20), T))
    edges = np.concatenate([[t_x], edges])
    integral = sum(
        integrate.quad(scaled, low, high, epsabs=0, epsrel=1e-13, limit=200)[0]
        for low, high in zip(edges[:-1], edges[1:], strict=True)
    )
    return log_const + np.logaddexp(log_alive, np.log(s * integral) + log_top)


@pytest.mark.parametrize(
    "params",
    [(0.5, 30.0, 1.2, 150.0), (0.5, 200.0, 0.7, 30.0), (2.0, 50.0, 1.0, 50.0), (0.3, 5, 3, 2000)],
)
def test_pareto_nbd_log_likelihood(params):
    """Both cases alpha >= beta and alpha < beta, against integration that uses no 2F1.

    x = 300 and 2000 overflow the untransformed 2F1 of lifetimes' formula; ours stays finite.
    """
    model = _pnbd_model(*params)
    x = np.array([0, 1, 3, 10, 50, 300, 2000, 5, 0], dtype=float)
    T = np.array([100, 100, 300, 700, 700, 700, 1000, 50, 0], dtype=float)
    t_x = np.array([0, 30, 299, 100, 650, 10, 999, 50, 0], dtype=float)
    ours = model.log_likelihood(x, t_x, T)
    reference = [
        _pnbd_log_likelihood_by_quadrature(*row, *params) for row in zip(x, t_x, T, strict=True)
    ]
    np.testing.assert_allclose(ours, reference, rtol=1e-10)
    for i in (0, 1, 2, 3, 8):
        assert ours[i] == pytest.approx(_pnbd_brute_force(1.0, x[i], t_x[i], T[i], *params)[0])


def test_pareto_nbd_gradient_matches_finite_differences(pnbd_simulated):
    sim = pnbd_simulated.iloc[:2000]
    x, t_x, T = (sim[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    for params in (np.array([0.7, 25.0, 0.9, 300.0]), np.array([0.7, 250.0, 0.9, 30.0])):
        _, gradient, _ = _pareto_nbd_log_likelihood(params, x, t_x, T)
        for i in range(4):
            step = np.zeros(4)
            step[i] = 1e-5 * params[i]
            numeric = (
                _pareto_nbd_log_likelihood(params + step, x, t_x, T)[0].sum()
                - _pareto_nbd_log_likelihood(params - step, x, t_x, T)[0].sum()
            ) / (2 * step[i])
            # d 2F1 / d(b, c) is a forward difference: ~1e-7 relative error
            assert gradient[i].sum() == pytest.approx(numeric, rel=1e-5)


def test_pareto_nbd_recovers_parameters(pnbd_simulated, pnbd):
    sim = pnbd_simulated
    errors = _relative_errors(pnbd.params_, TRUE_PNBD)
    print("Pareto/NBD fitted", pnbd.params_, "relative errors", errors)
    assert pnbd.converged_
    assert all(abs(errors[name]) < PNBD_TOLERANCE[name] for name in TRUE_PNBD), errors
    truth = _pnbd_model(**TRUE_PNBD).log_likelihood(sim["frequency"], sim["recency"], sim["T"])
    assert pnbd.log_likelihood_ >= truth.sum()


@pytest.mark.parametrize(
    "slip", ["recency ignored (t_x = 0)", "recency as days since last (T - t_x)"]
)
def test_pareto_nbd_tolerance_rejects_a_wrong_likelihood(pnbd_simulated, slip):
    sim = pnbd_simulated
    x, t_x, T = (sim[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    wrong_t_x = np.zeros_like(t_x) if slip.startswith("recency ignored") else T - t_x

    def objective(log_params):
        params = np.exp(log_params)
        with np.errstate(all="ignore"):
            ll, grad, _ = _pareto_nbd_log_likelihood(params, x, wrong_t_x, T)
        if not np.isfinite(ll.sum()):
            return np.inf, np.zeros(4)
        return -ll.mean(), -grad.mean(axis=1) * params

    start = np.log(list(TRUE_PNBD.values()))
    result = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=[(-10, 12)] * 4)
    wrong = dict(zip(TRUE_PNBD, np.exp(result.x), strict=True))
    errors = _relative_errors(wrong, TRUE_PNBD)
    print(slip, wrong, errors)
    assert not all(abs(errors[name]) < PNBD_TOLERANCE[name] for name in TRUE_PNBD)


@pytest.mark.parametrize(
    "params", [(0.5, 30.0, 1.2, 150.0), (0.5, 200.0, 0.7, 30.0), (2.0, 50.0, 1.0, 80.0)]
)
def test_pareto_nbd_predictions_match_brute_force_integration(params):
    """P(alive) and E[purchases] (s = 1 is the removable singularity of the closed form)."""
    model = _pnbd_model(*params)
    points = [(0, 0, 200), (1, 50, 300), (3, 250, 300), (10, 100, 700), (0, 0, 0), (40, 650, 700)]
    for t in (30.0, 365.0):
        for x, t_x, T in points:
            _, p_alive, expected = _pnbd_brute_force(t, x, t_x, T, *params)
            assert model.p_alive(x, t_x, T)[0] == pytest.approx(p_alive, rel=1e-8)
            assert model.expected_purchases(t, x, t_x, T)[0] == pytest.approx(expected, rel=1e-8)
    assert np.all(model.expected_purchases(0.0, [0, 3], [0, 20], [10, 30]) == 0.0)


def test_pareto_nbd_expected_purchases_continuous_through_s_equal_one():
    x, t_x, T = np.array([0, 2, 8]), np.array([0, 150, 300]), np.array([400, 400, 400])
    values = [
        _pnbd_model(0.5, 30.0, s, 150.0).expected_purchases(365, x, t_x, T)
        for s in (0.998, 1 - 1e-12, 1.0, 1 + 1e-12, 1.002)
    ]
    assert all(np.all(np.isfinite(v)) for v in values)
    np.testing.assert_allclose(values[1], values[2], rtol=1e-9)
    np.testing.assert_allclose(values[3], values[2], rtol=1e-9)
    assert not hasattr(ParetoNBDModel, "expected_days_to_next_purchase")


def test_pareto_nbd_calibrated_against_simulation(pnbd_simulated, pnbd):
    sim = pnbd_simulated
    x, t_x, T = sim["frequency"], sim["recency"], sim["T"]
    p = pnbd.p_alive(x, t_x, T)
    alive = sim["alive"].to_numpy()
    assert p.mean() == pytest.approx(alive.mean(), abs=0.02)
    bins = np.digitize(p, [0.2, 0.5, 0.8])
    for level in np.unique(bins):
        assert p[bins == level].mean() == pytest.approx(alive[bins == level].mean(), abs=0.05)
    predicted = pnbd.expected_purchases(HORIZON, x, t_x, T)
    actual = sim["future_purchases"].to_numpy()
    assert predicted.sum() / actual.sum() - 1 == pytest.approx(0.0, abs=0.06)
    decile = pd.qcut(predicted, 10, labels=False, duplicates="drop")
    by_decile = pd.DataFrame({"p": predicted, "a": actual}).groupby(decile).mean()
    np.testing.assert_allclose(by_decile["p"], by_decile["a"], atol=0.15, rtol=0.12)


def test_pareto_nbd_simulator_matches_closed_forms():
    """Simulated counts, survival and future purchases against Pareto/NBD closed forms."""
    rng = np.random.default_rng(8)
    sim = simulate_pareto_nbd(40_000, **TRUE_PNBD, T=200.0, rng=rng, future_days=100.0)
    model = _pnbd_model(**TRUE_PNBD)
    # P(x = 0 | T) is the likelihood of (0, 0, T); P(alive at T) = (beta / (beta + T))^s
    assert (sim["frequency"] == 0).mean() == pytest.approx(
        np.exp(model.log_likelihood(0, 0, 200.0)[0]), abs=0.01
    )
    r, alpha, s, beta = TRUE_PNBD.values()
    assert sim["alive"].mean() == pytest.approx((beta / (beta + 200.0)) ** s, abs=0.01)
    assert np.all(sim["recency"] <= sim["T"])
    assert np.all(sim.loc[sim["frequency"] == 0, "recency"] == 0)
    assert np.all(sim.loc[~sim["alive"], "future_purchases"] == 0)
    # unconditional E[purchases in (T, T+t]] = r beta / (alpha (s-1)) [(beta/(beta+T))^(s-1)
    # - (beta/(beta+T+t))^(s-1)]
    expected = (
        r
        * beta
        / (alpha * (s - 1))
        * ((beta / (beta + 200.0)) ** (s - 1) - (beta / (beta + 300.0)) ** (s - 1))
    )
    assert sim["future_purchases"].mean() == pytest.approx(expected, rel=0.05)


def test_mbgnbd_simulator_drops_at_the_first_order():
    rng = np.random.default_rng(9)
    sim = simulate_mbgnbd(40_000, **TRUE_MBG, T=0.0, rng=rng)
    a, b = TRUE_MBG["a"], TRUE_MBG["b"]
    assert (~sim["alive"]).mean() == pytest.approx(a / (a + b), abs=0.01)  # E[p]
    assert np.all(sim["frequency"] == 0)


# ---------------------------------------------------------------------------------- degenerate


@pytest.mark.parametrize("model_class", [ModifiedBetaGeoModel, ParetoNBDModel])
@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        ([0, 0, 0], [0, 0, 0], [10, 20, 30], "no customer has a repeat purchase"),
        ([0], [0], [0], "no customer has a repeat purchase"),
        ([2, 0], [0, 0], [0, 0], "every customer has T = 0"),
        ([], [], [], "empty input"),
        ([1, 2], [3, 15], [10, 10], "recency exceeds T"),
        ([1, np.nan], [3, 5], [10, 10], "missing or infinite"),
        ([0, 2], [3, 5], [10, 10], "recency must be 0 where frequency is 0"),
        ([1, 2, 3], [3, 5], [10, 10], "lengths differ"),
    ],
)
def test_new_models_reject_degenerate_input(model_class, frequency, recency, T, message):
    with pytest.raises(ValueError, match=message):
        model_class().fit(frequency, recency, T)


@pytest.mark.parametrize("model_class", [ModifiedBetaGeoModel, ParetoNBDModel])
def test_new_models_fit_tiny_and_t_zero_data(model_class):
    """A single customer, or rows with T = 0, fit (perhaps with a warning) to finite numbers."""
    for frequency, recency, T in [([3], [20], [50]), ([0, 2, 1, 0], [0, 10, 0, 0], [0, 20, 5, 0])]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a parameter at its bound is fine here
            model = model_class().fit(frequency, recency, T)
        assert all(np.isfinite(v) and v > 0 for v in model.params_.values())
        assert np.all(np.isfinite(model.log_likelihood(frequency, recency, T)))
        p = model.p_alive(frequency, recency, T)
        assert np.all((p > 0) & (p <= 1))
        expected = model.expected_purchases(30, frequency, recency, T)
        assert np.all(np.isfinite(expected) & (expected >= 0))
    # a T = 0 row carries no information: log-likelihood 0 (just made the first order)
    for model in (_mbg_model(**TRUE_MBG), _pnbd_model(**TRUE_PNBD)):
        assert model.log_likelihood(0, 0, 0)[0] == pytest.approx(0.0, abs=1e-12)
