"""The web events stage of a generation run: a purchase session per observed order, browsing
sessions of known customers (fewer after dropout) and anonymous sessions.

A purchase session's search (35% of them) names what is then bought: the product noun of the
order's first item, with a prefix ("cheap ", "best ", ...). Browsing searches name a noun of a
category drawn from the customer's preferences.
"""

from __future__ import annotations

import numpy as np

from simulator.sampling import _group_rank, _segment_lognormal_gaps, _time_of_day
from simulator.world import (
    ADD_TO_CART,
    ANON_SHARE,
    CATEGORY_SPECS,
    DEVICE_WEIGHTS,
    N_PERSONA,
    PAGE_VIEW,
    PERSONAS,
    POST_DROPOUT_BROWSE,
    PRODUCT_VIEW,
    PURCHASE,
    SEARCH,
    SEARCH_PREFIXES,
    SECONDS_PER_DAY,
    _pa,
)

_NOUN_QUERY = 1_000  # search codes from here on name a noun (code - _NOUN_QUERY), not a category


class _EventsMixin:
    """The events stage of simulator.shop._Shop; reads the arrays its earlier stages set."""

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
        # the search of a purchase session names what is then bought: the noun of the first
        # item (coded _NOUN_QUERY + noun; browsing searches carry a category instead)
        first_prod = self.it_prod[self.it_line == 1]  # items are sorted by order, one per order
        sr_query = _NOUN_QUERY + self.noun[first_prod[has_search]]
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
            [np.full(has_pv.size, -1), sr_query, np.full(ex_sess.size + 3 * k, -1)]
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
        q_code = qcat[searches].astype(np.int64)
        named = q_code >= _NOUN_QUERY  # purchase sessions: the bought item's noun
        q_cat = np.where(named, 0, q_code)
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
        noun = np.where(named, q_code - _NOUN_QUERY, noun)
        query = np.full(sec.size, -1, dtype=np.int32)
        query[searches] = noun * n_q + prefix

        self.ev_sess_id = sid[sess]
        self.ev_sec = sec
        self.ev_type = typ
        self.ev_prod = prod
        self.ev_query = query
        self.ev_cust = ev_cust
        self.ev_dev = sess_dev[sess]
