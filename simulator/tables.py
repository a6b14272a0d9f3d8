"""The Arrow tables of a generation run: the landing tables (observed data only) and the
hidden truth tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import astuple, dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.world import (
    ACQ_CHANNELS,
    BRANDS,
    CAMPAIGN_WINDOW_DAYS,
    CATEGORIES,
    CATEGORY_SPECS,
    COUNTRIES,
    DEVICES,
    EVENT_TYPES,
    FIRST_NAMES,
    LAST_NAMES,
    ORDER_CHANNELS,
    ORDER_STATUSES,
    PERSONAS,
    REVIEW_TEXTS,
    SEARCH_PREFIXES,
    SECONDS_PER_DAY,
)

TS = pa.timestamp("us")


@dataclass(frozen=True)
class IdStart:
    """How many ids of each kind earlier shards of the shop used (simulator.generate): a shard's
    ids continue after them. All 0 for a shop generated in one piece."""

    customer: int = 0
    order: int = 0
    review: int = 0
    session: int = 0
    event: int = 0

    def __add__(self, other: IdStart) -> IdStart:
        return IdStart(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


def _ids(prefix: str, n: int, width: int, start: int = 0) -> pa.Array:
    """Zero-padded string ids ``prefix + start+1..start+n``; vectorized via Arrow compute."""
    nums = pc.cast(pa.array(np.arange(start + 1, start + n + 1, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(nums, width, "0"), "")


def _take(values: pa.Array, idx: np.ndarray) -> pa.Array:
    """``values[idx]`` with NULL where ``idx < 0``."""
    idx = np.asarray(idx)
    if idx.size and idx.min() < 0:
        return pc.take(values, pa.array(idx, mask=idx < 0))
    return pc.take(values, pa.array(idx))


def _timestamps(epoch_s: int, seconds: np.ndarray) -> pa.Array:
    return pa.array((epoch_s + seconds.astype(np.int64)) * 1_000_000, type=TS)


class _TablesMixin:
    """The tables stage of simulator.shop._Shop; reads the arrays its earlier stages set."""

    def id_counts(self) -> IdStart:
        """The ids of each kind this run's tables use (call before tables(), which frees the
        event arrays)."""
        with_events = self.cfg.with_events
        return IdStart(
            customer=self.cfg.customers,
            order=int(self.o_cust.size),
            review=int(self.rv_cust.size) if self.cfg.with_products else 0,
            session=int(self.ev_sess_id.max(initial=0)) if with_events else 0,
            event=int(self.ev_sec.size) if with_events else 0,
        )

    def tables(self, start: IdStart = IdStart()) -> Iterator[tuple[str, pa.Table]]:
        """Yield (name, table) one at a time so that each can be written and freed; ids are
        numbered from ``start`` on (a later shard of a large shop).

        Without products (``with_products=False``) the products and reviews tables are not
        yielded and every product_id is NULL; without events (``with_events=False``) web_events
        is not yielded; campaign_sends only if a campaign was sent (campaigns_truth always, with a
        row per campaign sent).
        """
        n, m = self.cfg.customers, self.cfg.products
        with_products = self.cfg.with_products
        cust_ids = _ids("CUST-", n, 6, start.customer)
        prod_ids = _ids("PROD-", m, 5)
        if not with_products:  # same shop, product ids withheld everywhere
            prod_ids = pa.nulls(m, pa.string())
        first = pa.array(FIRST_NAMES)
        last = pa.array(LAST_NAMES)
        fn = pc.take(first, pa.array(self.first_name))
        ln = pc.take(last, pa.array(self.last_name))
        nums = pc.cast(pa.array(np.arange(start.customer + 1, start.customer + n + 1)), pa.string())
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
        if with_products:
            yield "products", products
        del products

        n_o = self.o_cust.size
        order_ids = _ids("ORD-", n_o, 7, start.order)
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

        if self.cfg.with_events:
            yield "web_events", self._web_events(cust_ids, prod_ids, start)
        for attr in [a for a in vars(self) if a.startswith("ev_")]:
            delattr(self, attr)  # free the event arrays before building the truth tables
        if with_products:  # a review needs a product
            yield "reviews", self._reviews(cust_ids, prod_ids, start.review)
        if self.sent:  # no campaign was sent (short history or empty audiences): no file
            yield "campaign_sends", self._campaign_sends(cust_ids)

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
                "purchase_rate": pa.array(self.buy_rate, pa.float64()),
                "dropout_probability": pa.array(self.p_drop, pa.float64()),
                "alive_at_end": pa.array(self.alive_at_end, pa.bool_()),
                "dropout_at": dropout_ts,
                "future_orders": pa.array(fut_orders, pa.int64()),
                "future_spend": pa.array(fut_spend, pa.float64()),
                "favourite_categories": pc.binary_join_element_wise(*top3_cols, ","),
                "satisfaction": pa.array(self.satisfaction, pa.float64()),
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
        yield "campaigns_truth", self._campaigns_truth()

    def _reviews(self, cust_ids: pa.Array, prod_ids: pa.Array, start: int) -> pa.Table:
        """The reviews landing table from the reviews stage's arrays."""
        texts = [
            REVIEW_TEXTS[r][j] if j < len(REVIEW_TEXTS[r]) else ""
            for r in range(len(REVIEW_TEXTS))
            for j in range(max(len(t) for t in REVIEW_TEXTS))
        ]
        return pa.table(
            {
                "review_id": _ids("REV-", self.rv_cust.size, 7, start),
                "customer_id": pc.take(cust_ids, pa.array(self.rv_cust)),
                "product_id": pc.take(prod_ids, pa.array(self.rv_prod)),
                "rating": pa.array(self.rv_rating, pa.int64()),
                "reviewed_at": _timestamps(self.epoch_s, self.rv_sec),
                "review_text": _take(pa.array(texts, pa.string()), self.rv_text),
            }
        )

    def _campaign_sends(self, cust_ids: pa.Array) -> pa.Table:
        """The campaign_sends landing table: one row per campaign and audience member."""
        sizes = [s.audience.size for s in self.sent]
        return pa.table(
            {
                "campaign_id": pa.array(
                    np.repeat([s.campaign_id for s in self.sent], sizes), pa.string()
                ),
                "customer_id": pc.take(
                    cust_ids, pa.array(np.concatenate([s.audience for s in self.sent]))
                ),
                "audience": pa.array(
                    np.repeat([s.audience_name for s in self.sent], sizes), pa.string()
                ),
                "sent_at": _timestamps(
                    self.epoch_s, np.repeat([s.sent_s for s in self.sent], sizes)
                ),
                "is_control": pa.array(np.concatenate([s.control for s in self.sent]), pa.bool_()),
            }
        )

    def _campaigns_truth(self) -> pa.Table:
        """One row per campaign sent with its true effect on the treated (no rows if none).

        true_conversion_uplift: share of the treated who converted (an order completed or
        returned in [sent_at, sent_at + window)) only because of their extra order;
        true_revenue_uplift_per_customer: net revenue of the extra (completed) orders per treated
        customer. Both are 0 for a campaign without effect.
        """
        n = self.cfg.customers
        window = CAMPAIGN_WINDOW_DAYS * SECONDS_PER_DAY
        net = self.it_qty * self.it_price - self.it_discount
        rows: dict[str, list] = {
            "campaign_id": [],
            "audience": [],
            "sent_s": [],
            "treated": [],
            "control": [],
            "conversion": [],
            "revenue": [],
        }
        for s in self.sent:  # a couple of campaigns
            treated = s.audience[~s.control]
            in_window = (
                (self.o_sec >= s.sent_s) & (self.o_sec < s.sent_s + window) & (self.o_status != 1)
            )
            extra = self.o_campaign == s.campaign
            with_extra = np.bincount(self.o_cust[in_window], minlength=n)[treated] > 0
            without = np.bincount(self.o_cust[in_window & ~extra], minlength=n)[treated] > 0
            extra_items = extra[self.it_order] & (self.o_status[self.it_order] == 0)
            n_treated = max(treated.size, 1)
            rows["campaign_id"].append(s.campaign_id)
            rows["audience"].append(s.audience_name)
            rows["sent_s"].append(s.sent_s)
            rows["treated"].append(int(treated.size))
            rows["control"].append(int(s.control.sum()))
            rows["conversion"].append(float((with_extra.sum() - without.sum()) / n_treated))
            rows["revenue"].append(float(net[extra_items].sum() / n_treated))
        return pa.table(
            {
                "campaign_id": pa.array(rows["campaign_id"], pa.string()),
                "audience": pa.array(rows["audience"], pa.string()),
                "sent_at": _timestamps(self.epoch_s, np.array(rows["sent_s"], np.int64)),
                "window_days": pa.array(np.full(len(self.sent), CAMPAIGN_WINDOW_DAYS), pa.int64()),
                "treated": pa.array(rows["treated"], pa.int64()),
                "control": pa.array(rows["control"], pa.int64()),
                "true_conversion_uplift": pa.array(rows["conversion"], pa.float64()),
                "true_revenue_uplift_per_customer": pa.array(rows["revenue"], pa.float64()),
            }
        )

    def _web_events(self, cust_ids: pa.Array, prod_ids: pa.Array, start: IdStart) -> pa.Table:
        """The web_events landing table from the events stage's arrays."""
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
                "event_id": pa.array(
                    np.arange(start.event + 1, start.event + self.ev_sec.size + 1), pa.int64()
                ),
                "session_id": pa.array(self.ev_sess_id + start.session, pa.int64()),
                "customer_id": _take(cust_ids, self.ev_cust),
                "event_type": pc.take(pa.array(EVENT_TYPES), pa.array(self.ev_type)),
                "event_at": _timestamps(self.epoch_s, self.ev_sec),
                "product_id": _take(prod_ids, self.ev_prod),
                "search_query": _take(vocab, self.ev_query),
                "device": pc.take(pa.array(DEVICES), pa.array(self.ev_dev)),
            }
        )
        return web_events
