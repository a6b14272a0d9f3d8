"""The reviews stage of a generation run: product reviews driven by a hidden satisfaction.

* Every customer has a hidden ``satisfaction`` in (0, 1): the expit of SATISFACTION_BASE plus a
  persona offset, minus SATISFACTION_DROP_WEIGHT times the standardized logit of the customer's
  dropout probability, plus noise. Unhappy customers therefore tend to churn sooner.
* A persona-dependent share of customers (REVIEWER_SHARE) writes reviews at all; each of them
  reviews a delivered (completed) order line with an individual probability (Beta(2, 2.5)),
  BAD_REVIEW_BOOST times as likely when the experience was bad (1-2 stars).
* A review's latent score is the customer's satisfaction logit plus logistic noise, minus
  LAST_ORDER_PENALTY for the lines of the order after which the customer drops out (a bad last
  experience); RATING_CUTS turn it into 1..5 stars (about 4 on average, 1-2 stars ~15%).
* The review comes some days after the order (REVIEW_DELAY_DAYS); one review per customer and
  product (the first); only reviews before the end of the observed period land.
"""

from __future__ import annotations

import numpy as np

from simulator.sampling import _time_of_day
from simulator.world import (
    BAD_REVIEW_BOOST,
    LAST_ORDER_PENALTY,
    PERSONAS,
    RATING_CUTS,
    REVIEW_DELAY_DAYS,
    REVIEW_NOISE,
    REVIEW_TEXT_SHARE,
    REVIEW_TEXTS,
    REVIEWER_SHARE,
    SATISFACTION_BASE,
    SATISFACTION_DROP_WEIGHT,
    SATISFACTION_NOISE,
    SATISFACTION_OFFSET,
    SECONDS_PER_DAY,
)

_TEXTS_PER_RATING = max(len(texts) for texts in REVIEW_TEXTS)


class _ReviewsMixin:
    """The reviews stage of simulator.shop._Shop; runs after items."""

    def reviews(self) -> None:
        rng = self.rngs[6]
        n = self.cfg.customers
        persona = self.persona

        # hidden satisfaction, lower for customers likely to drop out
        p = np.clip(self.p_drop, 1e-9, 1 - 1e-9)
        logit = np.log(p) - np.log1p(-p)
        sd = logit.std()
        z = (logit - logit.mean()) / sd if sd > 1e-12 else np.zeros(n)
        offset = np.array([SATISFACTION_OFFSET[name] for name in PERSONAS])[persona]
        sat_logit = (
            SATISFACTION_BASE
            + offset
            - SATISFACTION_DROP_WEIGHT * z
            + SATISFACTION_NOISE * rng.standard_normal(n)
        )
        self.satisfaction = 1.0 / (1.0 + np.exp(-sat_logit))

        share = np.array([REVIEWER_SHARE[name] for name in PERSONAS])[persona]
        reviewer = rng.random(n) < share
        review_prob = np.where(reviewer, rng.beta(2.0, 2.5, n), 0.0)

        # candidates: lines of completed orders of reviewers
        it_cust = self.o_cust[self.it_order]
        cand = np.flatnonzero((self.o_status[self.it_order] == 0) & reviewer[it_cust])
        c_order = self.it_order[cand]
        c_cust = it_cust[cand]
        last_order = self.o_sec[c_order] == self.dropout_s[c_cust]  # dropout_s is -1 if none
        score = (
            sat_logit[c_cust]
            - LAST_ORDER_PENALTY * last_order
            + REVIEW_NOISE * rng.logistic(size=cand.size)
        )
        rating = 1 + np.searchsorted(RATING_CUTS, score)
        prob = np.minimum(review_prob[c_cust] * np.where(rating <= 2, BAD_REVIEW_BOOST, 1.0), 1.0)
        keep = rng.random(cand.size) < prob
        cand, c_order, c_cust, rating = cand[keep], c_order[keep], c_cust[keep], rating[keep]
        lo, shape, scale = REVIEW_DELAY_DAYS
        delay_days = np.floor(lo + rng.gamma(shape, scale, cand.size)) + _time_of_day(
            rng, cand.size
        )
        sec = self.o_sec[c_order] + np.floor(delay_days * SECONDS_PER_DAY).astype(np.int64)
        prod = self.it_prod[cand]
        text = np.where(
            rng.random(cand.size) < REVIEW_TEXT_SHARE,
            (rating - 1) * _TEXTS_PER_RATING
            + (rng.random(cand.size) * np.array([len(t) for t in REVIEW_TEXTS])[rating - 1]).astype(
                np.int64
            ),
            -1,
        )
        # one review per customer and product (the first), observed ones only, in time order
        first = np.lexsort((sec, prod, c_cust))
        dup = np.zeros(first.size, dtype=bool)
        dup[1:] = (c_cust[first][1:] == c_cust[first][:-1]) & (prod[first][1:] == prod[first][:-1])
        sel = first[~dup]
        sel = sel[sec[sel] < self.end_s]
        sel = sel[np.lexsort((c_cust[sel], sec[sel]))]
        self.rv_cust = c_cust[sel]
        self.rv_prod = prod[sel]
        self.rv_sec = sec[sel]
        self.rv_rating = rating[sel].astype(np.int64)
        self.rv_text = text[sel]
