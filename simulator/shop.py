"""The generation run: customers, products, orders and their items, as numpy arrays.

_Shop holds the intermediate arrays of one run; its campaign, review, web-event and table stages
live in simulator.campaigns, simulator.reviews, simulator.events and simulator.tables (mixins).
simulator.generate runs customers, products, orders, campaigns (extra orders of treated
customers, before the items so that they get order lines), items, reviews, events, tables.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np

from simulator.campaigns import _CampaignsMixin
from simulator.events import _EventsMixin
from simulator.reviews import _ReviewsMixin
from simulator.sampling import _group_rank, _sample_cdf_rows, _stack_cdf, _time_of_day
from simulator.tables import _TablesMixin
from simulator.world import (
    _CAT_INDEX,
    _MONTH_FACTOR,
    _WEEKDAY_FACTOR,
    BRANDS,
    CATEGORY_SPECS,
    COUNTRIES,
    COUNTRY_WEIGHTS,
    DEVICE_WEIGHTS,
    DISCOUNT_RATE_P,
    DISCOUNT_RATES,
    EXISTING_SHARE,
    FAVOURITE_REBUY,
    FIRST_NAMES,
    LAST_NAMES,
    LAUNCH_SHARE,
    N_CAT,
    N_PERSONA,
    PERSONA_SPECS,
    POPULARITY_EXPONENT,
    SECONDS_PER_DAY,
    SIGNUP_GROWTH,
    ShopConfig,
    _pa,
)

SHARD_KEY = 1_000  # spawn_key of a later shard's seeds: (SHARD_KEY, shard)


class _Shop(_CampaignsMixin, _ReviewsMixin, _EventsMixin, _TablesMixin):
    """Holds the intermediate arrays of one generation run (all times in days or seconds
    from the start of the observed period).

    A large shop is generated in shards of customers (simulator.generate): shard 0 draws as a
    shop of its size alone would; a later shard draws its customers, orders, reviews, campaigns
    and events from seeds of its own and its catalogue from the shop's seed, so every shard
    sells the same products."""

    def __init__(self, config: ShopConfig, shard: int = 0) -> None:
        if config.customers < 1:
            raise ValueError("customers must be >= 1")
        if config.products < 1:
            raise ValueError("products must be >= 1")
        if config.history_days < 1 or config.future_days < 0:
            raise ValueError("history_days must be >= 1 and future_days >= 0")
        if not config.repeat_rate >= 0 or not np.isfinite(config.repeat_rate):
            raise ValueError("repeat_rate must be a finite number >= 0")
        if not config.popularity_concentration >= 0 or not np.isfinite(
            config.popularity_concentration
        ):
            raise ValueError("popularity_concentration must be a finite number >= 0")
        self.cfg = config
        seeds = np.random.SeedSequence(config.seed).spawn(8)
        if shard:  # a later shard of a large shop: its own customers, the same catalogue
            seeds = [
                seeds[1] if stage == 1 else seed
                for stage, seed in enumerate(
                    np.random.SeedSequence(config.seed, spawn_key=(SHARD_KEY, shard)).spawn(8)
                )
            ]
        self.rngs = [np.random.default_rng(s) for s in seeds]
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
        # repeat_rate: repeat orders come r times as often and the dropout probability per
        # transaction is 1 - (1 - p) ** (1 / r), which keeps the lifetime in days about the same;
        # r = 0: every customer drops out at the first order. self.rate (the persona's base rate)
        # still drives browsing and the first order of customers who existed before the period.
        r = float(self.cfg.repeat_rate)
        self.buy_rate = self.rate
        if r != 1.0:
            self.buy_rate = self.rate * r
            if r > 0:
                self.p_drop = np.clip(-np.expm1(np.log1p(-self.p_drop) / r), 1e-12, 1.0)
            else:
                self.p_drop = np.ones_like(self.p_drop)

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
        if m >= N_CAT:  # every category has a product
            cat = np.concatenate(
                [np.arange(N_CAT), rng.choice(N_CAT, m - N_CAT, p=cat_w / cat_w.sum())]
            )
        else:  # a small catalogue covers m distinct categories
            cat = rng.choice(N_CAT, m, replace=False, p=cat_w / cat_w.sum())
        cat = cat[rng.permutation(m)]
        # category drawn -> category bought from: uncovered categories go to covered ones
        covered = np.unique(cat)
        self.cat_map = np.arange(N_CAT)
        uncovered = np.setdiff1d(self.cat_map, covered)
        self.cat_map[uncovered] = covered[np.arange(uncovered.size) % covered.size]
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
        self.pop = 1.0 / (rank + 1.0) ** (POPULARITY_EXPONENT * self.cfg.popularity_concentration)
        launched = (rng.random(m) < LAUNCH_SHARE) & (rank > 0)
        self.created = np.where(launched, rng.random(m) * (self.h_obs - 1), rng.random(m) / 24)
        self.fallback = np.full(N_CAT, -1, dtype=np.int64)  # top product of each category
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
        cat = self.cat_map[cat]

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
            self.buy_rate,
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
