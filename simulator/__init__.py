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
  customer is alive and a tenth of it afterwards; every order has its own purchase session,
  whose search (if any) names what is then bought;
* a minority of customers (persona-dependent) review delivered items some days later; ratings
  follow a hidden per-customer satisfaction that falls with the dropout probability, and the
  last order before a dropout tends to get a bad review;
* two past campaigns with a held-out control group: a win-back campaign to lapsed valuable
  customers whose treated customers place an extra order with a known probability (the true
  uplift is in the truth table campaigns_truth) and a newsletter without effect.

The process is simulated ``future_days`` beyond ``end_date``.  Landing files (customers,
products, order_lines, web_events, reviews, campaign_sends) only contain data up to
``end_date``; the truth files (personas, rates, dropout, satisfaction, future orders, campaign
effects) are written to a separate directory and must never be read by the pipeline.

Everything is vectorized with numpy (no Python loop over customers, orders or events) and
deterministic for a given :class:`ShopConfig`.

ShopConfig's knobs (repeat_rate, popularity_concentration, with_products, with_events, besides
size and time frame) make shops unlike the default one; ARCHETYPES names small ones (tiny,
one_time_buyers, one_product, no_products, ...), described one line each in
ARCHETYPE_DESCRIPTIONS.

CLI::

    python -m simulator --customers 30000 --seed 42 --out data/landing --truth data/truth
    python -m simulator --archetype one_time_buyers --out DIR --truth DIR

Modules: world (categories, personas, ShopConfig, review and campaign settings), archetypes (the
named small shops), sampling (vectorized draws), shop (customers, products, orders, items),
campaigns (past campaigns and their extra orders), reviews (satisfaction and reviews), events
(web sessions), tables (the Arrow tables), generate (writing the files), cli
(``python -m simulator``).
"""

from simulator.archetypes import ARCHETYPES
from simulator.archetypes import DESCRIPTIONS as ARCHETYPE_DESCRIPTIONS
from simulator.cli import main
from simulator.generate import GENERATOR_VERSION, generate
from simulator.world import (
    CATEGORIES,
    LANDING_TABLES,
    PERSONAS,
    TRUTH_TABLES,
    ShopConfig,
)

__all__ = [
    "ShopConfig",
    "ARCHETYPES",
    "ARCHETYPE_DESCRIPTIONS",
    "generate",
    "main",
    "PERSONAS",
    "CATEGORIES",
    "LANDING_TABLES",
    "TRUTH_TABLES",
    "GENERATOR_VERSION",
]
