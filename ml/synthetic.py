"""Deterministic, vectorized generator of a synthetic online shop with hidden ground truth.

The shop is driven by latent per-customer parameters so that downstream models have
something real to find:

* every customer belongs to a hidden persona (loyal, bargain_hunter, big_spender,
  occasional, window_shopper);
* purchases follow a buy-till-you-die process (BG/NBD style): a Poisson process with an
  individual rate ``lambda`` ~ Gamma, modulated by weekly/yearly seasonality and Black
  Friday (simulated by thinning a homogeneous process at the maximal rate), with a dropout
  after each transaction with an individual probability ``p`` ~ Beta;
* category preferences (Dirichlet, concentrated on 1-3 favourite categories), a
  persona-specific price tilt and a few favourite products drive what is bought and viewed;
* browsing sessions follow the purchase rate times a persona browse multiplier while the
  customer is alive and a tenth of it afterwards; every order has its own purchase session.

The process is simulated ``future_days`` beyond ``end_date``.  Landing files only contain
data up to ``end_date``; the truth files (personas, rates, dropout, future orders) are
written to a separate directory and must never be read by the pipeline.

Everything is vectorized with numpy (no Python loop over customers, orders or events) and
deterministic for a given :class:`ShopConfig`.

CLI::

    python -m ml.synthetic --customers 30000 --seed 42 --out data/landing --truth data/truth
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

__all__ = ["ShopConfig", "generate", "main", "PERSONAS", "CATEGORIES", "LANDING_TABLES"]

GENERATOR_VERSION = 1
SECONDS_PER_DAY = 86_400
TS = pa.timestamp("us")

LANDING_TABLES = ("customers", "products", "order_lines", "web_events")
TRUTH_TABLES = ("customers_truth", "future_order_items")


@dataclass(frozen=True)
class ShopConfig:
    """Size, seed and time frame of the synthetic shop."""

    customers: int = 30_000
    products: int = 800
    seed: int = 42
    end_date: date = date(2026, 10, 31)  # last day of observed data (inclusive)
    history_days: int = 730  # observed period length
    future_days: int = 90  # truth window after end_date

    @property
    def start_date(self) -> date:
        """First day of observed data."""
        return self.end_date - timedelta(days=self.history_days)


# --------------------------------------------------------------------------------------
# Static world description
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Category:
    name: str
    median_price: float
    popularity: float  # global share weight
    extra_quantity: float  # Poisson mean of quantity - 1
    nouns: tuple[str, ...]


CATEGORY_SPECS: tuple[_Category, ...] = (
    _Category(
        "Electronics",
        160.0,
        1.3,
        0.05,
        ("Headphones", "Speaker", "Charger", "Smartwatch", "Keyboard", "Monitor"),
    ),
    _Category(
        "Home & Kitchen",
        40.0,
        1.2,
        0.2,
        ("Blender", "Pan Set", "Kettle", "Knife Set", "Lamp", "Towel Set"),
    ),
    _Category("Beauty", 22.0, 1.0, 0.3, ("Serum", "Lipstick", "Face Cream", "Shampoo", "Perfume")),
    _Category(
        "Fashion", 45.0, 1.4, 0.15, ("Sneakers", "T-Shirt", "Jacket", "Jeans", "Dress", "Scarf")
    ),
    _Category(
        "Sports",
        50.0,
        0.9,
        0.15,
        ("Yoga Mat", "Dumbbells", "Running Shorts", "Water Bottle", "Tennis Racket"),
    ),
    _Category("Toys", 28.0, 0.8, 0.2, ("Puzzle", "Building Set", "Plush Bear", "Board Game")),
    _Category("Books", 16.0, 0.9, 0.2, ("Novel", "Cookbook", "Travel Guide", "Comic", "Biography")),
    _Category("Garden", 35.0, 0.6, 0.2, ("Hose", "Planter", "Pruning Shears", "Garden Chair")),
    _Category("Pet Supplies", 20.0, 0.7, 0.6, ("Dog Food", "Cat Litter", "Pet Bed", "Leash")),
    _Category("Grocery", 7.0, 1.1, 1.2, ("Coffee Beans", "Olive Oil", "Pasta", "Tea", "Chocolate")),
    _Category("Health", 18.0, 0.8, 0.4, ("Vitamins", "Protein Powder", "First Aid Kit")),
    _Category("Jewelry", 110.0, 0.5, 0.02, ("Necklace", "Ring", "Bracelet", "Earrings", "Watch")),
)
CATEGORIES: tuple[str, ...] = tuple(c.name for c in CATEGORY_SPECS)
_CAT_INDEX = {name: i for i, name in enumerate(CATEGORIES)}
N_CAT = len(CATEGORIES)

BRANDS: tuple[str, ...] = (
    "Acmeo", "Voltix", "Lumina", "Nordhaus", "Brightline", "Kairo", "Solvane", "Tessera",
    "Marlow", "Quanta", "Verdeo", "Pixely", "Orbis", "Halcyon", "Zentro", "Fjordia",
    "Calder", "Novique", "Rustica", "Evergrow", "Pawfect", "Mirela", "Aurum", "Sableco",
    "Trailon", "Kinetiq", "Bellora", "Cozya", "Urbanix", "Glimmer", "Tidewell", "Papyra",
    "Fernly", "Vitalis", "Crema", "Joyplay", "Stridex", "Luxora", "Basilico", "Northpeak",
)  # fmt: skip

FIRST_NAMES: tuple[str, ...] = (
    "Anna", "Lukas", "Emma", "Noah", "Mia", "Leon", "Sofia", "Paul", "Lea", "Jonas",
    "Marie", "Felix", "Clara", "Elias", "Julia", "Max", "Laura", "Ben", "Sara", "Tom",
    "Lucia", "Mateo", "Chloe", "Hugo", "Alice", "Louis", "Giulia", "Marco", "Eva", "Jan",
    "Olivia", "Jack", "Amelia", "Liam", "Ava", "James", "Isla", "Oscar", "Nina", "Pablo",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Martin", "Bernard", "Dubois",
    "Garcia", "Lopez", "Rossi", "Russo", "Bianchi", "Jansen", "Visser", "Kowalski",
    "Nowak", "Smith", "Jones", "Taylor", "Brown", "Wilson", "Johnson", "Peeters",
    "Huber", "Gruber", "Moreau", "Fernandez", "Romano", "Bakker", "Lewis", "Walker",
    "Novak", "Costa", "Meyer", "Wagner", "Becker", "Hoffmann", "Leroy", "Conti",
)  # fmt: skip

COUNTRIES = ("DE", "FR", "NL", "ES", "IT", "BE", "AT", "PL", "GB", "US")
COUNTRY_WEIGHTS = (0.22, 0.14, 0.08, 0.09, 0.10, 0.05, 0.05, 0.07, 0.10, 0.10)
ACQ_CHANNELS = ("organic", "paid_search", "social", "email", "referral", "affiliate")
ORDER_CHANNELS = ("web", "app", "marketplace")
ORDER_STATUSES = ("completed", "cancelled", "returned")
DEVICES = ("desktop", "mobile", "tablet")
DEVICE_WEIGHTS = np.array([0.38, 0.52, 0.10])
EVENT_TYPES = ("page_view", "search", "product_view", "add_to_cart", "purchase")
PAGE_VIEW, SEARCH, PRODUCT_VIEW, ADD_TO_CART, PURCHASE = range(5)
SEARCH_PREFIXES = ("", "best ", "cheap ", "sale ", "new ")


@dataclass(frozen=True)
class _Persona:
    name: str
    share: float
    rate_mean: float  # mean purchase rate (orders per day) of the Gamma distribution
    rate_shape: float  # Gamma shape (heterogeneity within persona)
    dropout_a: float  # Beta(a, b) for the dropout probability after each transaction
    dropout_b: float
    first_order_days: float  # mean delay between signup and first order
    browse_mult: float  # browsing sessions per expected order
    session_events: float  # Poisson mean of extra events per browsing session
    basket_mean: float  # mean number of lines per order
    price_beta: float  # product weight ~ popularity * price ** -beta
    discount_prob: float  # share of discounted lines (before seasonal boost)
    bf_boost: float  # extra relative purchase intensity on Black Friday .. Cyber Monday
    dec_boost: float  # extra relative purchase intensity in December
    cancel_prob: float
    return_prob: float
    channel_probs: tuple[float, float, float]  # web, app, marketplace
    acq_probs: tuple[float, float, float, float, float, float]
    category_tilt: tuple[tuple[str, float], ...]


PERSONA_SPECS: tuple[_Persona, ...] = (
    _Persona(
        "loyal", 0.15, 1 / 25, 4.0, 1.0, 28.0, 1.0, 2.5, 2.0, 2.3, 0.2, 0.10, 0.8, 0.1,
        0.025, 0.04, (0.45, 0.45, 0.10), (0.35, 0.15, 0.10, 0.20, 0.15, 0.05),
        (("Grocery", 1.8), ("Pet Supplies", 2.0), ("Health", 1.5), ("Beauty", 1.5)),
    ),
    _Persona(
        "bargain_hunter", 0.25, 1 / 55, 3.0, 2.0, 16.0, 3.0, 5.0, 2.0, 1.9, 1.8, 0.75, 3.0, 0.5,
        0.050, 0.05, (0.45, 0.20, 0.35), (0.15, 0.20, 0.20, 0.20, 0.05, 0.20),
        (("Grocery", 3.0), ("Fashion", 2.0), ("Home & Kitchen", 1.5), ("Jewelry", 0.3)),
    ),
    _Persona(
        "big_spender", 0.10, 1 / 70, 3.0, 1.5, 20.0, 2.0, 3.5, 2.0, 2.8, -1.5, 0.03, 1.0, 0.2,
        0.035, 0.09, (0.60, 0.30, 0.10), (0.30, 0.35, 0.10, 0.05, 0.15, 0.05),
        (("Electronics", 3.0), ("Jewelry", 3.0), ("Fashion", 1.5), ("Grocery", 0.4)),
    ),
    _Persona(
        "occasional", 0.35, 1 / 140, 2.0, 3.0, 5.0, 4.0, 6.0, 1.8, 1.5, 0.3, 0.12, 1.5, 0.0,
        0.045, 0.06, (0.55, 0.15, 0.30), (0.30, 0.30, 0.15, 0.05, 0.10, 0.10),
        (("Books", 1.5), ("Toys", 1.5), ("Garden", 1.4)),
    ),
    _Persona(
        "window_shopper", 0.15, 1 / 180, 2.0, 2.0, 6.0, 15.0, 30.0, 3.0, 1.4, 0.0, 0.15, 1.0,
        0.0, 0.060, 0.08, (0.60, 0.30, 0.10), (0.25, 0.15, 0.35, 0.05, 0.10, 0.10),
        (("Electronics", 2.0), ("Fashion", 2.0), ("Jewelry", 1.5)),
    ),
)  # fmt: skip
PERSONAS: tuple[str, ...] = tuple(p.name for p in PERSONA_SPECS)
N_PERSONA = len(PERSONAS)


def _pa(field: str) -> np.ndarray:
    """Persona attribute as an array indexed by persona code."""
    return np.array([getattr(p, field) for p in PERSONA_SPECS], dtype=np.float64)


# Seasonality (day level). Month factors Jan..Dec, weekday factors Mon..Sun, hour profile.
_MONTH_FACTOR = np.array([0.92, 0.86, 0.95, 0.97, 0.95, 0.78, 0.76, 0.84, 0.98, 1.03, 1.45, 1.70])
_WEEKDAY_FACTOR = np.array([1.06, 0.93, 0.92, 0.92, 0.95, 1.12, 1.18])
_HOUR_PROFILE = np.array(
    [0.25, 0.15, 0.10, 0.08, 0.08, 0.12, 0.30, 0.60, 0.80, 0.90, 1.00, 1.10,
     1.25, 1.20, 1.05, 1.00, 1.05, 1.15, 1.35, 1.60, 1.75, 1.60, 1.10, 0.60]
)  # fmt: skip
_HOUR_CDF = np.cumsum(_HOUR_PROFILE) / _HOUR_PROFILE.sum()

EXISTING_SHARE = 0.2  # customers already present at the start of the observed period
SIGNUP_GROWTH = 3.0  # signup intensity at end / at start of the observed period
FAVOURITE_REBUY = 0.25  # probability that an order line is one of the favourite products
POST_DROPOUT_BROWSE = 0.1  # browsing intensity after dropout relative to alive
ANON_SHARE = 0.2  # share of anonymous sessions
LAUNCH_SHARE = 0.2  # share of products launched during the observed period
DISCOUNT_RATES = np.array([0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50])
DISCOUNT_RATE_P = np.array([0.20, 0.25, 0.15, 0.15, 0.08, 0.08, 0.05, 0.04])


# --------------------------------------------------------------------------------------
# Small vectorized helpers
# --------------------------------------------------------------------------------------


def _group_rank(group: np.ndarray, n_groups: int) -> np.ndarray:
    """0-based position of each element within its group; ``group`` must be sorted."""
    counts = np.bincount(group, minlength=n_groups)
    first = np.cumsum(counts) - counts
    return np.arange(group.size, dtype=np.int64) - first[group]


def _sample_cdf_rows(
    cdf_flat: np.ndarray, width: int, row: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Sample a column per draw from row-wise CDFs stored as ``row + cdf`` (sorted, flat).

    ``cdf_flat[r * width + k] = r + cdf[r, k]`` with ``cdf[r, width - 1] == 1``.
    """
    key = row + np.minimum(u, 1.0 - 1e-9)
    idx = np.searchsorted(cdf_flat, key, side="right")
    return (idx - row * width).astype(np.int64)


def _stack_cdf(weights: np.ndarray) -> np.ndarray:
    """Flat ``row + cdf`` array for :func:`_sample_cdf_rows` from a 2-D weight matrix."""
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    cdf[:, -1] = 1.0
    return (cdf + np.arange(weights.shape[0])[:, None]).ravel()


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Fraction of a day following the hourly profile."""
    hour = np.searchsorted(_HOUR_CDF, rng.random(n), side="right")
    return (np.minimum(hour, 23) + rng.random(n)) / 24.0


def _segment_lognormal_gaps(rng: np.random.Generator, n: int, median_s: float) -> np.ndarray:
    """Seconds between consecutive events in a session (seconds to minutes)."""
    g = rng.lognormal(np.log(median_s), 0.9, n)
    return np.clip(np.rint(g), 2, 1_200).astype(np.int64)


def _ids(prefix: str, n: int, width: int) -> pa.Array:
    """Zero-padded string ids ``prefix + 000..n``; vectorized via Arrow compute."""
    nums = pc.cast(pa.array(np.arange(1, n + 1, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(nums, width, "0"), "")


def _take(values: pa.Array, idx: np.ndarray) -> pa.Array:
    """``values[idx]`` with NULL where ``idx < 0``."""
    idx = np.asarray(idx)
    if idx.size and idx.min() < 0:
        return pc.take(values, pa.array(idx, mask=idx < 0))
    return pc.take(values, pa.array(idx))


def _timestamps(epoch_s: int, seconds: np.ndarray) -> pa.Array:
    return pa.array((epoch_s + seconds.astype(np.int64)) * 1_000_000, type=TS)


# --------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------


class _Shop:
    """Holds the intermediate arrays of one generation run (all times in days or seconds
    from the start of the observed period)."""

    def __init__(self, config: ShopConfig) -> None:
        if config.customers < 1:
            raise ValueError("customers must be >= 1")
        if config.products < N_CAT:
            raise ValueError(f"products must be >= {N_CAT} (one per category)")
        if config.history_days < 1 or config.future_days < 0:
            raise ValueError("history_days must be >= 1 and future_days >= 0")
        self.cfg = config
        self.rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(8)]
        self.h_obs = config.history_days + 1  # observed days incl. end_date
        self.h_total = self.h_obs + config.future_days
        self.end_s = self.h_obs * SECONDS_PER_DAY  # first second after the observed period
        self.epoch_s = (config.start_date - date(1970, 1, 1)).days * SECONDS_PER_DAY
        self._seasonality()

    # -- seasonality -------------------------------------------------------------------
    def _seasonality(self) -> None:
        days = np.datetime64(self.cfg.start_date, "D") + np.arange(self.h_total)
        month = days.astype("datetime64[M]").astype(np.int64) % 12
        weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        base = (_MONTH_FACTOR / _MONTH_FACTOR.mean())[month] * (
            _WEEKDAY_FACTOR / _WEEKDAY_FACTOR.mean()
        )[weekday]
        years = np.unique(days.astype("datetime64[Y]").astype(np.int64) + 1970)
        nov1 = np.array([f"{y}-11-01" for y in years], dtype="datetime64[D]")
        first_thu = nov1 + (3 - (nov1.astype(np.int64) + 3) % 7) % 7
        black_friday = first_thu + 22  # day after the 4th Thursday of November
        bf = np.zeros(self.h_total, dtype=bool)
        for offset in range(4):  # Black Friday .. Cyber Monday (loop over 4 offsets only)
            bf |= np.isin(days, black_friday + offset)
        dec = month == 11
        self.day_bf = bf
        self.day_dec = dec
        # purchase intensity per persona and day, and browsing intensity per day
        self.order_season = (
            base[None, :]
            * (1 + _pa("bf_boost")[:, None] * bf[None, :])
            * (1 + _pa("dec_boost")[:, None] * dec[None, :])
        )
        self.order_smax = self.order_season.max(axis=1)
        self.browse_season = base * (1 + 0.5 * bf)

    # -- thinning ------------------------------------------------------------------------
    def _thin(
        self,
        rng: np.random.Generator,
        t_lo: np.ndarray,
        t_hi: np.ndarray,
        rate: np.ndarray,
        season: Callable[[np.ndarray, np.ndarray], np.ndarray],
        smax: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Inhomogeneous Poisson process per owner on (t_lo, t_hi) by thinning.

        Intensity of owner ``i`` at time ``t`` is ``rate[i] * season(i, floor(t))`` times the
        hourly profile, with ``season(i, d) <= smax[i]``. Candidates come from a homogeneous
        process at ``rate * smax`` and are accepted with probability ``season / smax``; the
        time of day of accepted points is then re-drawn from the hourly profile (exact, since
        the day-level process is Poisson and the hourly profile is a density within a day).
        Returns (owner, time) sorted by owner, then time.
        """
        span = np.maximum(t_hi - t_lo, 0.0)
        n = rng.poisson(rate * smax * span)
        owner = np.repeat(np.arange(rate.size), n)
        t = t_lo[owner] + rng.random(owner.size) * span[owner]
        day = np.minimum(t.astype(np.int64), self.h_total - 1)
        accept = rng.random(owner.size) * smax[owner] < season(owner, day)
        owner, day = owner[accept], day[accept]
        t = day + _time_of_day(rng, day.size)
        ok = (t > t_lo[owner]) & (t < t_hi[owner])
        owner, t = owner[ok], t[ok]
        order = np.lexsort((t, owner))
        return owner[order], t[order]

    # -- stages --------------------------------------------------------------------------
    def customers(self) -> None:
        rng = self.rngs[0]
        n = self.cfg.customers
        h = float(self.h_obs)
        g = np.log(SIGNUP_GROWTH) / h
        existing = rng.random(n) < EXISTING_SHARE
        t_new = np.log1p(rng.random(n) * np.expm1(g * h)) / g
        t_sign = np.where(existing, rng.random(n) * 2.0, t_new)
        order = np.argsort(t_sign, kind="stable")  # customer ids in signup order
        self.t_sign = np.minimum(t_sign[order], h - 1e-6)
        self.existing = existing[order]

        persona = rng.choice(N_PERSONA, n, p=_pa("share") / _pa("share").sum())
        self.persona = persona
        shape = _pa("rate_shape")[persona]
        self.rate = rng.gamma(shape, _pa("rate_mean")[persona] / shape)
        self.p_drop = rng.beta(_pa("dropout_a")[persona], _pa("dropout_b")[persona])

        # category preferences: Dirichlet concentrated on 1-3 favourites (persona-tilted)
        tilt = np.array([[c.popularity for c in CATEGORY_SPECS]] * N_PERSONA)
        for pi, spec in enumerate(PERSONA_SPECS):  # loop over 5 personas, not customers
            for cat, factor in spec.category_tilt:
                tilt[pi, _CAT_INDEX[cat]] *= factor
        keys = -np.log(rng.random((n, N_CAT))) / tilt[persona]  # weighted sampling w/o repl.
        fav_rank = np.argsort(np.argsort(keys, axis=1), axis=1)
        n_fav = rng.choice([1, 2, 3], n, p=[0.3, 0.45, 0.25])
        alpha = 0.12 + 4.0 * (fav_rank < n_fav[:, None])
        pref = rng.gamma(alpha)
        pref /= pref.sum(axis=1, keepdims=True)
        self.pref = pref
        self.pref_cdf = _stack_cdf(pref)
        self.top3 = np.argsort(-pref, axis=1, kind="stable")[:, :3]

        self.country = rng.choice(
            len(COUNTRIES), n, p=np.array(COUNTRY_WEIGHTS) / sum(COUNTRY_WEIGHTS)
        )
        acq = np.array([p.acq_probs for p in PERSONA_SPECS])
        self.acq = _sample_cdf_rows(_stack_cdf(acq), acq.shape[1], persona, rng.random(n))
        self.first_name = rng.integers(0, len(FIRST_NAMES), n)
        self.last_name = rng.integers(0, len(LAST_NAMES), n)
        self.device = rng.choice(3, n, p=DEVICE_WEIGHTS)

    def products(self) -> None:
        rng = self.rngs[1]
        m = self.cfg.products
        cat_w = np.array([c.popularity for c in CATEGORY_SPECS])
        cat = np.concatenate(
            [np.arange(N_CAT), rng.choice(N_CAT, m - N_CAT, p=cat_w / cat_w.sum())]
        )
        cat = cat[rng.permutation(m)]
        # brands: each brand has a primary and possibly a secondary category
        n_b = len(BRANDS)
        primary = np.arange(n_b) % N_CAT
        secondary = (primary + 1 + rng.integers(0, N_CAT - 1, n_b)) % N_CAT
        covers = np.zeros((N_CAT, n_b), dtype=bool)
        covers[primary, np.arange(n_b)] = True
        has_second = rng.random(n_b) < 0.45
        covers[secondary[has_second], np.arange(n_b)[has_second]] = True
        brand_list = np.argsort(~covers, axis=1, kind="stable")  # covering brands first
        brand_count = covers.sum(axis=1)
        brand = brand_list[cat, (rng.random(m) * brand_count[cat]).astype(np.int64)]
        brand_tier = rng.lognormal(0.0, 0.25, n_b)

        median = np.array([c.median_price for c in CATEGORY_SPECS])
        price = median[cat] * brand_tier[brand] * rng.lognormal(0.0, 0.55, m)
        self.price = np.maximum(np.round(price, 2), 0.99)

        # Zipf-like popularity within category
        by_cat = np.lexsort((rng.random(m), cat))
        rank = np.empty(m, dtype=np.int64)
        rank[by_cat] = _group_rank(cat[by_cat], N_CAT)
        self.pop = 1.0 / (rank + 1.0) ** 1.1
        launched = (rng.random(m) < LAUNCH_SHARE) & (rank > 0)
        self.created = np.where(launched, rng.random(m) * (self.h_obs - 1), rng.random(m) / 24)
        self.fallback = np.empty(N_CAT, dtype=np.int64)
        self.fallback[cat[rank == 0]] = np.flatnonzero(rank == 0)

        self.cat = cat
        self.brand = brand
        noun_counts = np.array([len(c.nouns) for c in CATEGORY_SPECS])
        noun_offset = np.cumsum(noun_counts) - noun_counts
        self.noun = noun_offset[cat] + (rng.random(m) * noun_counts[cat]).astype(np.int64)
        self.model_no = rng.integers(100, 1000, m)

        # product sampler: per persona, category-blocked CDF of popularity * price^-beta
        self.by_cat = np.argsort(cat, kind="stable")
        cat_sorted = cat[self.by_cat]
        blocks = []
        for pi in range(N_PERSONA):  # 5 personas
            w = (self.pop * self.price ** (-PERSONA_SPECS[pi].price_beta))[self.by_cat]
            cs = np.cumsum(w)
            totals = np.bincount(cat_sorted, weights=w, minlength=N_CAT)
            before = np.cumsum(totals) - totals
            cdf = np.clip((cs - before[cat_sorted]) / totals[cat_sorted], 0.0, 1.0)
            last = np.r_[cat_sorted[1:] != cat_sorted[:-1], True]
            cdf[last] = 1.0
            blocks.append(pi * N_CAT + cat_sorted + cdf)
        self.prod_cdf = np.concatenate(blocks)
        self.global_cat_w = cat_w / cat_w.sum()

    def _draw_category(self, rng: np.random.Generator, cust: np.ndarray) -> np.ndarray:
        """Category per draw: customer preference, or global weights where ``cust < 0``."""
        out = rng.choice(N_CAT, cust.size, p=self.global_cat_w)
        known = cust >= 0
        out[known] = _sample_cdf_rows(
            self.pref_cdf, N_CAT, cust[known], rng.random(int(known.sum()))
        )
        return out

    def _draw_product(
        self, rng: np.random.Generator, persona: np.ndarray, cat: np.ndarray, t: np.ndarray
    ) -> np.ndarray:
        """Product per draw given persona (price tilt), category and time (launch dates)."""
        m = self.cfg.products

        def once(p: np.ndarray, c: np.ndarray) -> np.ndarray:
            key = p * N_CAT + c + np.minimum(rng.random(p.size), 1.0 - 1e-9)
            pos = np.searchsorted(self.prod_cdf, key, side="right") - p * m
            return self.by_cat[pos]

        prod = once(persona, cat)
        for _ in range(3):  # a few vectorized redraws for not-yet-launched products
            bad = np.flatnonzero(self.created[prod] > t)
            if bad.size == 0:
                break
            prod[bad] = once(persona[bad], cat[bad])
        return np.where(self.created[prod] > t, self.fallback[cat], prod)

    def orders(self) -> None:
        rng = self.rngs[2]
        n = self.cfg.customers
        persona = self.persona
        # favourite products from favourite categories, available at signup
        fav_cust = np.repeat(np.arange(n), 3)
        self.fav = self._draw_product(
            rng,
            persona[fav_cust],
            self._draw_category(rng, fav_cust),
            self.t_sign[fav_cust],
        ).reshape(n, 3)

        # first transaction: shortly after signup (or a Poisson arrival for existing ones)
        delay_new = rng.exponential(_pa("first_order_days")[persona])
        delay_existing = rng.exponential(1.0 / self.rate)
        t1 = self.t_sign + np.where(self.existing, delay_existing, delay_new)
        k_life = rng.geometric(self.p_drop)  # transactions before dropping out (>= 1)

        def season(owner: np.ndarray, day: np.ndarray) -> np.ndarray:
            return self.order_season[persona[owner], day]

        owner, t = self._thin(
            rng,
            t1,
            np.full(n, float(self.h_total)),
            self.rate,
            season,
            self.order_smax[persona],
        )
        rank = _group_rank(owner, n)
        keep = rank < (k_life[owner] - 1)
        owner, t = owner[keep], t[keep]
        in_horizon = t1 < self.h_total
        first_owner = np.flatnonzero(in_horizon)

        # dropout: at the K-th transaction if it happens within the simulated horizon
        n_repeat = np.bincount(owner, minlength=n)
        last_t = np.where(in_horizon, t1, np.nan)
        has_repeat = n_repeat > 0
        last_t[has_repeat] = t[(np.cumsum(n_repeat) - 1)[has_repeat]]  # sorted by owner, time
        dropped = in_horizon & (n_repeat == k_life - 1)
        self.dropout_t = np.where(dropped, last_t, np.nan)

        cust = np.concatenate([first_owner, owner])
        times = np.concatenate([t1[first_owner], t])
        sec = np.floor(times * SECONDS_PER_DAY).astype(np.int64)
        order = np.lexsort((cust, sec))  # order ids follow time
        self.o_cust = cust[order]
        self.o_sec = sec[order]
        self.dropout_s = np.where(
            dropped, np.floor(np.nan_to_num(last_t) * SECONDS_PER_DAY), -1
        ).astype(np.int64)
        self.alive_at_end = ~dropped | (self.dropout_s >= self.end_s)

        n_o = self.o_cust.size
        op = persona[self.o_cust]
        u = rng.random(n_o)
        c_prob, r_prob = _pa("cancel_prob")[op], _pa("return_prob")[op]
        self.o_status = np.where(u < c_prob, 1, np.where(u < c_prob + r_prob, 2, 0))
        ch = np.array([p.channel_probs for p in PERSONA_SPECS])
        self.o_channel = _sample_cdf_rows(_stack_cdf(ch), 3, op, rng.random(n_o))

    def items(self) -> None:
        rng = self.rngs[3]
        n_o = self.o_cust.size
        op = self.persona[self.o_cust]
        n_lines = 1 + np.minimum(rng.poisson(_pa("basket_mean")[op] - 1.0), 7)
        it_order = np.repeat(np.arange(n_o), n_lines)
        it_cust = self.o_cust[it_order]
        it_t = self.o_sec[it_order] / SECONDS_PER_DAY
        prod = self._draw_product(
            rng, self.persona[it_cust], self._draw_category(rng, it_cust), it_t
        )
        use_fav = rng.random(it_order.size) < FAVOURITE_REBUY
        fav = self.fav[it_cust, rng.integers(0, 3, it_order.size)]
        prod = np.where(use_fav, fav, prod)
        # drop duplicate products within an order
        srt = np.lexsort((prod, it_order))
        dup = np.zeros(srt.size, dtype=bool)
        dup[1:] = (it_order[srt][1:] == it_order[srt][:-1]) & (prod[srt][1:] == prod[srt][:-1])
        kept = np.sort(srt[~dup])
        it_order, prod = it_order[kept], prod[kept]
        n_i = it_order.size

        cat = self.cat[prod]
        extra_q = np.array([c.extra_quantity for c in CATEGORY_SPECS])[cat]
        quantity = 1 + np.minimum(rng.poisson(extra_q), 11)
        unit_price = self.price[prod]
        day = np.minimum(self.o_sec[it_order] // SECONDS_PER_DAY, self.h_total - 1)
        season_mult = np.where(self.day_bf[day], 2.0, np.where(self.day_dec[day], 1.5, 1.0))
        d_prob = np.minimum(
            _pa("discount_prob")[self.persona[self.o_cust[it_order]]] * season_mult, 0.9
        )
        has_disc = rng.random(n_i) < d_prob
        rate = DISCOUNT_RATES[rng.choice(DISCOUNT_RATES.size, n_i, p=DISCOUNT_RATE_P)]
        gross = np.round(quantity * unit_price, 2)
        discount = np.where(has_disc, np.minimum(np.round(rate * gross, 2), gross), 0.0)

        self.it_order = it_order
        self.it_line = _group_rank(it_order, n_o) + 1
        self.it_prod = prod
        self.it_qty = quantity
        self.it_price = unit_price
        self.it_discount = discount

    def events(self) -> None:
        rng = self.rngs[4]
        n = self.cfg.customers
        obs = self.o_sec < self.end_s
        n_obs = int(obs.sum())  # orders are sorted by time -> observed ones come first
        persona = self.persona

        # ---- purchase sessions (one per observed order) --------------------------------
        o_cust = self.o_cust[:n_obs]
        it_mask = self.it_order < n_obs
        it_order = self.it_order[it_mask]
        it_line = self.it_line[it_mask] - 1
        it_prod = self.it_prod[it_mask]
        has_pv = np.flatnonzero(rng.random(n_obs) < 0.7)
        has_search = np.flatnonzero(rng.random(n_obs) < 0.35)
        n_extra = np.minimum(rng.poisson(1.0, n_obs), 4)
        ex_sess = np.repeat(np.arange(n_obs), n_extra)
        ex_pos = 2 + _group_rank(ex_sess, n_obs)
        ex_cust = o_cust[ex_sess]
        ex_prod = self._draw_product(
            rng,
            persona[ex_cust],
            self._draw_category(rng, ex_cust),
            self.o_sec[ex_sess] / SECONDS_PER_DAY,
        )
        sr_cat = self._draw_category(rng, o_cust[has_search])
        k = it_order.size
        p_sess = np.concatenate([has_pv, has_search, ex_sess, it_order, it_order, it_order])
        p_pos = np.concatenate(
            [
                np.zeros(has_pv.size, np.int64),
                np.ones(has_search.size, np.int64),
                ex_pos,
                10 + 2 * it_line,
                11 + 2 * it_line,
                100 + it_line,
            ]
        )
        p_type = np.concatenate(
            [
                np.full(has_pv.size, PAGE_VIEW),
                np.full(has_search.size, SEARCH),
                np.full(ex_sess.size, PRODUCT_VIEW),
                np.full(k, PRODUCT_VIEW),
                np.full(k, ADD_TO_CART),
                np.full(k, PURCHASE),
            ]
        )
        p_prod = np.concatenate(
            [np.full(has_pv.size + has_search.size, -1), ex_prod, it_prod, it_prod, it_prod]
        )
        p_qcat = np.concatenate(
            [np.full(has_pv.size, -1), sr_cat, np.full(ex_sess.size + 3 * k, -1)]
        )
        srt = np.argsort(p_sess * 256 + p_pos, kind="stable")
        p_sess, p_pos, p_type = p_sess[srt], p_pos[srt], p_type[srt]
        p_prod, p_qcat = p_prod[srt], p_qcat[srt]
        gaps = _segment_lognormal_gaps(rng, p_sess.size, 40.0)
        gaps[(p_type == PURCHASE) & (p_pos > 100)] = 0  # all purchase events at order time
        csum = np.cumsum(gaps)
        last_idx = np.cumsum(np.bincount(p_sess, minlength=n_obs)) - 1
        after = csum[last_idx[p_sess]] - csum  # seconds until the order is placed
        p_sec = np.maximum(
            self.o_sec[p_sess] - after,
            np.floor(self.t_sign[o_cust[p_sess]] * SECONDS_PER_DAY).astype(np.int64),
        )
        ch = self.o_channel[:n_obs]
        pref_dev = self.device[o_cust]
        p_dev_sess = np.where(
            ch == 1,
            np.where(rng.random(n_obs) < 0.85, 1, 2),
            np.where(rng.random(n_obs) < 0.8, pref_dev, rng.choice(3, n_obs, p=DEVICE_WEIGHTS)),
        )

        # ---- browsing sessions of known customers ----------------------------------------
        drop_t = np.where(np.isnan(self.dropout_t), np.inf, self.dropout_t)
        browse_rate = self.rate * _pa("browse_mult")[persona]
        smax = np.full(n, self.browse_season.max())

        def browse_season(owner: np.ndarray, day: np.ndarray) -> np.ndarray:
            return self.browse_season[day]

        b_cust, b_t = self._thin(
            rng, self.t_sign, np.full(n, float(self.h_obs)), browse_rate, browse_season, smax
        )
        alive = b_t < drop_t[b_cust]
        keep = alive | (rng.random(b_cust.size) < POST_DROPOUT_BROWSE)
        b_cust, b_t = b_cust[keep], b_t[keep]
        n_b = b_cust.size

        # ---- anonymous sessions ------------------------------------------------------------
        n_known = n_obs + n_b
        n_anon = int(rng.binomial(n_known, ANON_SHARE / (1 - ANON_SHARE))) if n_known else 0
        day_w = self.browse_season[: self.h_obs]
        a_day = rng.choice(self.h_obs, n_anon, p=day_w / day_w.sum())
        a_t = a_day + _time_of_day(rng, n_anon)

        # ---- events of browsing + anonymous sessions (vectorized by position) -------------
        s_cust = np.concatenate([b_cust, np.full(n_anon, -1)])
        s_t = np.concatenate([b_t, a_t])
        s_persona = np.concatenate(
            [persona[b_cust], rng.choice(N_PERSONA, n_anon, p=_pa("share") / _pa("share").sum())]
        )
        mean_extra = np.concatenate([_pa("session_events")[persona[b_cust]], np.full(n_anon, 1.2)])
        n_s = s_cust.size
        n_ev = 1 + np.minimum(rng.poisson(mean_extra), 7)
        e_sess = np.repeat(np.arange(n_s), n_ev)
        e_pos = _group_rank(e_sess, n_s)
        n_e = e_sess.size
        first_type = np.where(rng.random(n_e) < 0.65, PAGE_VIEW, SEARCH)
        later_type = rng.choice(4, n_e, p=[0.15, 0.12, 0.60, 0.13])
        e_type = np.where(e_pos == 0, first_type, later_type)
        prev_type = np.r_[-1, e_type[:-1]]
        bad_cart = (e_type == ADD_TO_CART) & ((e_pos == 0) | (prev_type != PRODUCT_VIEW))
        e_type[bad_cart] = PRODUCT_VIEW
        e_cust = s_cust[e_sess]
        needs_cat = (e_type == PRODUCT_VIEW) | (e_type == SEARCH)
        e_cat = np.full(n_e, -1)
        e_cat[needs_cat] = self._draw_category(rng, e_cust[needs_cat])
        e_prod = np.full(n_e, -1)
        pv = np.flatnonzero(e_type == PRODUCT_VIEW)
        e_prod[pv] = self._draw_product(rng, s_persona[e_sess[pv]], e_cat[pv], s_t[e_sess[pv]])
        fav_pv = pv[(e_cust[pv] >= 0) & (rng.random(pv.size) < 0.2)]
        e_prod[fav_pv] = self.fav[e_cust[fav_pv], rng.integers(0, 3, fav_pv.size)]
        cart = np.flatnonzero(e_type == ADD_TO_CART)
        e_prod[cart] = e_prod[cart - 1]
        e_qcat = np.where(e_type == SEARCH, e_cat, -1)
        gaps = _segment_lognormal_gaps(rng, n_e, 45.0)
        gaps[e_pos == 0] = 0
        csum = np.cumsum(gaps)
        first_idx = np.cumsum(n_ev) - n_ev
        e_sec = np.floor(s_t * SECONDS_PER_DAY).astype(np.int64)[e_sess] + (
            csum - csum[first_idx[e_sess]]
        )
        s_dev = np.where(
            (s_cust >= 0) & (rng.random(n_s) < 0.8),
            self.device[np.maximum(s_cust, 0)],
            rng.choice(3, n_s, p=DEVICE_WEIGHTS),
        )

        # ---- combine, assign ids --------------------------------------------------------
        sess = np.concatenate([p_sess, e_sess + n_obs])
        del p_sess, e_sess
        sec = np.concatenate([p_sec, e_sec])
        del p_sec, e_sec
        typ = np.concatenate([p_type, e_type]).astype(np.int8)
        prod = np.concatenate([p_prod, e_prod]).astype(np.int32)
        qcat = np.concatenate([p_qcat, e_qcat]).astype(np.int16)
        del p_type, e_type, p_prod, e_prod, p_qcat, e_qcat, e_pos, e_cust, e_cat, gaps, csum
        sess_cust = np.concatenate([o_cust, s_cust])
        sess_dev = np.concatenate([p_dev_sess, s_dev]).astype(np.int8)
        inside = np.flatnonzero(sec < self.end_s)
        sel = inside[np.argsort(sec[inside], kind="stable")]  # chronological, ties in session
        del inside
        sess, sec, typ, prod, qcat = (a[sel] for a in (sess, sec, typ, prod, qcat))
        del sel
        n_sess = sess_cust.size
        start = np.full(n_sess, np.iinfo(np.int64).max)
        np.minimum.at(start, sess, sec)
        sid = np.empty(n_sess, dtype=np.int64)
        sid[np.argsort(start, kind="stable")] = np.arange(1, n_sess + 1)

        # search queries: a noun of the searched category with a prefix ("cheap ..." etc.)
        n_q = len(SEARCH_PREFIXES)
        noun_counts = np.array([len(c.nouns) for c in CATEGORY_SPECS])
        noun_offset = np.cumsum(noun_counts) - noun_counts
        ev_cust = sess_cust[sess].astype(np.int32)
        searches = np.flatnonzero(qcat >= 0)
        q_cat = qcat[searches].astype(np.int64)
        q_cust = ev_cust[searches]
        bargain = (q_cust >= 0) & (
            persona[np.maximum(q_cust, 0)] == PERSONAS.index("bargain_hunter")
        )
        prefix = np.where(
            bargain & (rng.random(searches.size) < 0.5),
            SEARCH_PREFIXES.index("cheap "),
            rng.integers(0, n_q, searches.size),
        )
        noun = noun_offset[q_cat] + (rng.random(searches.size) * noun_counts[q_cat]).astype(
            np.int64
        )
        query = np.full(sec.size, -1, dtype=np.int32)
        query[searches] = noun * n_q + prefix

        self.ev_sess_id = sid[sess]
        self.ev_sec = sec
        self.ev_type = typ
        self.ev_prod = prod
        self.ev_query = query
        self.ev_cust = ev_cust
        self.ev_dev = sess_dev[sess]

    # -- tables --------------------------------------------------------------------------
    def tables(self) -> Iterator[tuple[str, pa.Table]]:
        """Yield (name, table) one at a time so that each can be written and freed."""
        n, m = self.cfg.customers, self.cfg.products
        cust_ids = _ids("CUST-", n, 6)
        prod_ids = _ids("PROD-", m, 5)
        first = pa.array(FIRST_NAMES)
        last = pa.array(LAST_NAMES)
        fn = pc.take(first, pa.array(self.first_name))
        ln = pc.take(last, pa.array(self.last_name))
        nums = pc.cast(pa.array(np.arange(1, n + 1)), pa.string())
        email = pc.utf8_lower(
            pc.binary_join_element_wise(fn, ".", ln, ".", nums, "@example.com", "")
        )
        customers = pa.table(
            {
                "customer_id": cust_ids,
                "signup_at": _timestamps(
                    self.epoch_s, np.floor(self.t_sign * SECONDS_PER_DAY).astype(np.int64)
                ),
                "country": pc.take(pa.array(COUNTRIES), pa.array(self.country)),
                "acquisition_channel": pc.take(pa.array(ACQ_CHANNELS), pa.array(self.acq)),
                "first_name": fn,
                "last_name": ln,
                "email": email,
            }
        )
        yield "customers", customers

        nouns = pa.array([noun for c in CATEGORY_SPECS for noun in c.nouns])
        brand = pc.take(pa.array(BRANDS), pa.array(self.brand))
        products = pa.table(
            {
                "product_id": prod_ids,
                "product_name": pc.binary_join_element_wise(
                    brand,
                    pc.take(nouns, pa.array(self.noun)),
                    pc.cast(pa.array(self.model_no), pa.string()),
                    " ",
                ),
                "category": pc.take(pa.array(CATEGORIES), pa.array(self.cat)),
                "brand": brand,
                "price": pa.array(self.price, pa.float64()),
                "created_at": _timestamps(
                    self.epoch_s, np.floor(self.created * SECONDS_PER_DAY).astype(np.int64)
                ),
            }
        )
        yield "products", products

        n_o = self.o_cust.size
        order_ids = _ids("ORD-", n_o, 7)
        obs = self.o_sec < self.end_s
        n_obs = int(obs.sum())
        orders_all = pa.table(
            {
                "order_id": order_ids,
                "customer_id": pc.take(cust_ids, pa.array(self.o_cust)),
                "ordered_at": _timestamps(self.epoch_s, self.o_sec),
                "status": pc.take(pa.array(ORDER_STATUSES), pa.array(self.o_status)),
                "channel": pc.take(pa.array(ORDER_CHANNELS), pa.array(self.o_channel)),
                "currency": pa.array(np.full(n_o, "EUR"), pa.string()),
            }
        )
        items_all = pa.table(
            {
                "order_id": pc.take(order_ids, pa.array(self.it_order)),
                "line_number": pa.array(self.it_line, pa.int64()),
                "product_id": pc.take(prod_ids, pa.array(self.it_prod)),
                "quantity": pa.array(self.it_qty, pa.int64()),
                "unit_price": pa.array(self.it_price, pa.float64()),
                "discount": pa.array(self.it_discount, pa.float64()),
            }
        )
        it_obs = self.it_order < n_obs
        # One row per order line with its order's header, the layout of a shop system's export.
        header = orders_all.take(pa.array(self.it_order[it_obs]))
        lines = items_all.filter(pa.array(it_obs))
        yield (
            "order_lines",
            pa.table(
                {
                    "order_id": lines["order_id"],
                    "line_number": lines["line_number"],
                    "customer_id": header["customer_id"],
                    "ordered_at": header["ordered_at"],
                    "status": header["status"],
                    "channel": header["channel"],
                    "currency": header["currency"],
                    "product_id": lines["product_id"],
                    "quantity": lines["quantity"],
                    "unit_price": lines["unit_price"],
                    "discount": lines["discount"],
                }
            ),
        )

        vocab = pa.array(  # index = noun * len(SEARCH_PREFIXES) + prefix
            [
                (pre + noun).lower()
                for c in CATEGORY_SPECS
                for noun in c.nouns
                for pre in SEARCH_PREFIXES
            ]
        )
        web_events = pa.table(
            {
                "event_id": pa.array(np.arange(1, self.ev_sec.size + 1), pa.int64()),
                "session_id": pa.array(self.ev_sess_id, pa.int64()),
                "customer_id": _take(cust_ids, self.ev_cust),
                "event_type": pc.take(pa.array(EVENT_TYPES), pa.array(self.ev_type)),
                "event_at": _timestamps(self.epoch_s, self.ev_sec),
                "product_id": _take(prod_ids, self.ev_prod),
                "search_query": _take(vocab, self.ev_query),
                "device": pc.take(pa.array(DEVICES), pa.array(self.ev_dev)),
            }
        )
        yield "web_events", web_events
        del web_events
        for attr in [a for a in vars(self) if a.startswith("ev_")]:
            delattr(self, attr)  # free the event arrays before building the truth tables

        # ---- truth ------------------------------------------------------------------------
        fut_o = ~obs & (self.o_status != 1)
        fut_orders = np.bincount(self.o_cust[fut_o], minlength=n)
        fut_it = ~it_obs
        completed_it = fut_it & (self.o_status[self.it_order] == 0)
        net = self.it_qty * self.it_price - self.it_discount
        fut_spend = np.round(
            np.bincount(self.o_cust[self.it_order[completed_it]], net[completed_it], minlength=n),
            2,
        )
        top3 = pc.take(pa.array(CATEGORIES), pa.array(self.top3.ravel()))
        top3_cols = [top3.take(pa.array(np.arange(j, 3 * n, 3))) for j in range(3)]
        dropout_ts = pa.array(
            (self.epoch_s + self.dropout_s) * 1_000_000, type=TS, mask=self.dropout_s < 0
        )
        customers_truth = pa.table(
            {
                "customer_id": cust_ids,
                "persona": pc.take(pa.array(PERSONAS), pa.array(self.persona)),
                "purchase_rate": pa.array(self.rate, pa.float64()),
                "dropout_probability": pa.array(self.p_drop, pa.float64()),
                "alive_at_end": pa.array(self.alive_at_end, pa.bool_()),
                "dropout_at": dropout_ts,
                "future_orders": pa.array(fut_orders, pa.int64()),
                "future_spend": pa.array(fut_spend, pa.float64()),
                "favourite_categories": pc.binary_join_element_wise(*top3_cols, ","),
            }
        )
        fut_items = items_all.filter(pa.array(fut_it))
        fut_order_idx = self.it_order[fut_it]
        future_order_items = pa.table(
            {
                "customer_id": pc.take(cust_ids, pa.array(self.o_cust[fut_order_idx])),
                "order_id": fut_items["order_id"],
                "ordered_at": _timestamps(self.epoch_s, self.o_sec[fut_order_idx]),
                "product_id": fut_items["product_id"],
                "quantity": fut_items["quantity"],
                "unit_price": fut_items["unit_price"],
                "discount": fut_items["discount"],
                "status": pc.take(pa.array(ORDER_STATUSES), pa.array(self.o_status[fut_order_idx])),
            }
        )
        yield "customers_truth", customers_truth
        yield "future_order_items", future_order_items


def generate(
    config: ShopConfig, out_dir: Path, truth_dir: Path, progress: bool = True
) -> dict[str, int]:
    """Write landing Parquet files to out_dir and truth files to truth_dir; return row counts.

    Landing tables: customers, products, order_lines, web_events (observed data up to
    ``end_date`` only). Truth: customers_truth, future_order_items and meta.json.
    """
    out_dir, truth_dir = Path(out_dir), Path(truth_dir)
    stages = ("customers", "products", "orders", "items", "events", "writing")
    shop = _Shop(config)
    with tqdm(
        total=len(stages),
        desc="synthetic shop",
        unit="stage",
        file=sys.stderr,
        disable=not progress,
    ) as bar:
        for stage in stages[:-1]:
            bar.set_postfix_str(stage)
            getattr(shop, stage)()
            bar.update(1)
        bar.set_postfix_str("writing")
        out_dir.mkdir(parents=True, exist_ok=True)
        truth_dir.mkdir(parents=True, exist_ok=True)
        counts: dict[str, int] = {}
        for name, table in shop.tables():
            target = out_dir if name in LANDING_TABLES else truth_dir
            pq.write_table(table, target / f"{name}.parquet", compression="zstd")
            counts[name] = table.num_rows
        meta = {
            "seed": config.seed,
            "customers": config.customers,
            "products": config.products,
            "end_date": config.end_date.isoformat(),
            "history_days": config.history_days,
            "future_days": config.future_days,
            "generated_at_version": GENERATOR_VERSION,
            "row_counts": counts,
        }
        (truth_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        bar.update(1)
    return counts


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: ``python -m ml.synthetic --customers N --seed S --out DIR --truth DIR``."""
    defaults = ShopConfig()
    parser = argparse.ArgumentParser(
        prog="python -m ml.synthetic", description="Generate a synthetic online shop."
    )
    parser.add_argument("--customers", type=int, default=defaults.customers)
    parser.add_argument("--products", type=int, default=defaults.products)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--end-date", type=date.fromisoformat, default=defaults.end_date, help="YYYY-MM-DD"
    )
    parser.add_argument("--history-days", type=int, default=defaults.history_days)
    parser.add_argument("--future-days", type=int, default=defaults.future_days)
    parser.add_argument("--out", type=Path, default=Path("data/landing"))
    parser.add_argument("--truth", type=Path, default=Path("data/truth"))
    parser.add_argument("--no-progress", action="store_true", help="disable the progress bar")
    args = parser.parse_args(argv)
    config = ShopConfig(
        customers=args.customers,
        products=args.products,
        seed=args.seed,
        end_date=args.end_date,
        history_days=args.history_days,
        future_days=args.future_days,
    )
    counts = generate(config, args.out, args.truth, progress=not args.no_progress)
    for name, rows in counts.items():
        print(f"{name}: {rows}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
