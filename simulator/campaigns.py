"""The campaigns stage of a generation run: past marketing campaigns with a held-out control
group and a known true effect.

Every campaign of world.CAMPAIGN_SPECS is sent once, ``days_before_end`` days before end_date at
CAMPAIGN_SEND_HOUR, to an audience chosen from the orders placed before the send:

* ``win_back``: lapsed but valuable customers (at least WINBACK_MIN_ORDERS non-cancelled orders,
  the last one WINBACK_LAPSED_DAYS before the send);
* ``newsletter``: a NEWSLETTER_SAMPLE sample of the customers with a non-cancelled order in the
  NEWSLETTER_ACTIVE_DAYS before the send.

CAMPAIGN_CONTROL_SHARE of the audience (drawn with the run's RNG) is held out as the control
group. With probability ``effect`` each treated customer - alive or already dropped out - places
one extra completed order within CAMPAIGN_WINDOW_DAYS after the send (exponential delay with mean
CAMPAIGN_RESPONSE_DAYS, cut at the window). A treated customer who had dropped out before that
extra order is won back for that one order only: their dropout moves to the extra order, so the
dropout stays at the last transaction. The extra orders are appended to the order arrays before
the items stage, so they get order lines, purchase sessions and reviews like every other order.
A campaign whose send day lies before the observed period or whose audience is empty is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from simulator.sampling import _sample_cdf_rows, _stack_cdf
from simulator.world import (
    CAMPAIGN_CONTROL_SHARE,
    CAMPAIGN_RESPONSE_DAYS,
    CAMPAIGN_SEND_HOUR,
    CAMPAIGN_SPECS,
    CAMPAIGN_WINDOW_DAYS,
    NEWSLETTER_ACTIVE_DAYS,
    NEWSLETTER_SAMPLE,
    PERSONA_SPECS,
    SECONDS_PER_DAY,
    WINBACK_LAPSED_DAYS,
    WINBACK_MIN_ORDERS,
    _Campaign,
)


@dataclass(frozen=True)
class _Sent:
    """One campaign as sent: its id, audience (sorted customer indices) and control flags."""

    campaign: int  # index into CAMPAIGN_SPECS; the extra orders carry it in o_campaign
    campaign_id: str
    audience_name: str
    sent_s: int
    audience: np.ndarray
    control: np.ndarray


class _CampaignsMixin:
    """The campaigns stage of simulator.shop._Shop; runs after orders, before items."""

    def campaigns(self) -> None:
        rng = self.rngs[5]
        self.o_campaign = np.full(self.o_cust.size, -1, dtype=np.int8)
        self.sent: list[_Sent] = []
        for ci, spec in enumerate(CAMPAIGN_SPECS):  # a couple of campaigns, in send order
            send_day = self.h_obs - 1 - spec.days_before_end
            if send_day < 0:
                continue
            sent_s = send_day * SECONDS_PER_DAY + CAMPAIGN_SEND_HOUR * 3_600
            audience = self._audience(rng, spec, sent_s)
            if audience.size == 0:
                continue
            control = np.zeros(audience.size, dtype=bool)
            n_control = int(round(CAMPAIGN_CONTROL_SHARE * audience.size))
            control[rng.permutation(audience.size)[:n_control]] = True
            if spec.effect > 0:
                treated = audience[~control]
                responders = treated[rng.random(treated.size) < spec.effect]
                window = float(CAMPAIGN_WINDOW_DAYS)
                cut = -np.expm1(-window / CAMPAIGN_RESPONSE_DAYS)
                delay = -np.log1p(-rng.random(responders.size) * cut) * CAMPAIGN_RESPONSE_DAYS
                extra_s = sent_s + np.minimum(
                    np.floor(delay * SECONDS_PER_DAY).astype(np.int64),
                    CAMPAIGN_WINDOW_DAYS * SECONDS_PER_DAY - 1,
                )
                self._add_orders(rng, responders, extra_s, ci)
            send_date = self.cfg.start_date + timedelta(days=int(send_day))
            self.sent.append(
                _Sent(
                    campaign=ci,
                    campaign_id=f"{spec.kind}_{send_date:%Y_%m}",
                    audience_name=spec.audience,
                    sent_s=int(sent_s),
                    audience=audience,
                    control=control,
                )
            )

    def _audience(self, rng: np.random.Generator, spec: _Campaign, sent_s: int) -> np.ndarray:
        """Sorted indices of the customers the campaign is aimed at (treated and control)."""
        n = self.cfg.customers
        placed = (self.o_sec < sent_s) & (self.o_status != 1)
        count = np.bincount(self.o_cust[placed], minlength=n)
        last = np.full(n, -1, dtype=np.int64)
        np.maximum.at(last, self.o_cust[placed], self.o_sec[placed])
        since = sent_s - last  # seconds since the last order (meaningless where count == 0)
        if spec.audience == "win_back":
            lo, hi = WINBACK_LAPSED_DAYS
            chosen = (
                (count >= WINBACK_MIN_ORDERS)
                & (since >= lo * SECONDS_PER_DAY)
                & (since <= hi * SECONDS_PER_DAY)
            )
        elif spec.audience == "newsletter":
            active = (count > 0) & (since <= NEWSLETTER_ACTIVE_DAYS * SECONDS_PER_DAY)
            chosen = active & (rng.random(n) < NEWSLETTER_SAMPLE)
        else:  # pragma: no cover - CAMPAIGN_SPECS only names the audiences above
            raise ValueError(f"unknown campaign audience {spec.audience!r}")
        return np.flatnonzero(chosen)

    def _add_orders(
        self, rng: np.random.Generator, cust: np.ndarray, sec: np.ndarray, campaign: int
    ) -> None:
        """Append completed orders of ``cust`` at ``sec``, keep the orders sorted by time and
        move the dropout of customers who had dropped out before their extra order to it."""
        ch = np.array([p.channel_probs for p in PERSONA_SPECS])
        channel = _sample_cdf_rows(_stack_cdf(ch), 3, self.persona[cust], rng.random(cust.size))
        o_cust = np.concatenate([self.o_cust, cust])
        o_sec = np.concatenate([self.o_sec, sec])
        order = np.lexsort((o_cust, o_sec))  # order ids follow time, as in the orders stage
        self.o_cust = o_cust[order]
        self.o_sec = o_sec[order]
        self.o_status = np.concatenate([self.o_status, np.zeros(cust.size, np.int64)])[order]
        self.o_channel = np.concatenate([self.o_channel, channel])[order]
        self.o_campaign = np.concatenate([self.o_campaign, np.full(cust.size, campaign, np.int8)])[
            order
        ]
        # won back after dropping out: the extra order becomes the last transaction
        revived = (self.dropout_s[cust] >= 0) & (self.dropout_s[cust] < sec)
        self.dropout_s[cust[revived]] = sec[revived]
        self.dropout_t[cust[revived]] = sec[revived] / SECONDS_PER_DAY
        self.alive_at_end = (self.dropout_s < 0) | (self.dropout_s >= self.end_s)
