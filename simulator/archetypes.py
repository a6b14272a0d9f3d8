"""Small named shops unlike the default one, for running the pipeline on unusual data.

``ARCHETYPES[name]`` is a ShopConfig (at most 300 customers, generated in well under a second);
``DESCRIPTIONS[name]`` says in one line what sets it apart. ``python -m simulator --archetype
NAME`` starts from one (explicit flags still override its settings).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from simulator.world import ShopConfig

# the common ground of the archetypes: a small shop with a year of history
_BASE = ShopConfig(customers=200, products=100, history_days=365)

_SPECS: dict[str, tuple[str, ShopConfig]] = {
    "tiny": (
        "50 customers, 40 products, 8 weeks of history",
        replace(_BASE, customers=50, products=40, history_days=56),
    ),
    "one_time_buyers": (
        "repeat_rate 0: nobody ever orders twice (everyone drops out at the first order)",
        replace(_BASE, customers=300, repeat_rate=0.0),
    ),
    "one_product": (
        "a catalogue of a single product: every order line is that product",
        replace(_BASE, products=1),
    ),
    "no_products": (
        "no product data: no products table, NULL product_id on order lines and web events",
        replace(_BASE, with_products=False),
    ),
    "no_events": (
        "no web tracking: no web_events table",
        replace(_BASE, customers=300, with_events=False),
    ),
    "short_history": (
        "3 weeks of history: few repeat orders, many customers without an order yet",
        replace(_BASE, customers=300, history_days=21),
    ),
    "long_past": (
        "2 years of history ending 1998-12-31",
        replace(_BASE, end_date=date(1998, 12, 31), history_days=730),
    ),
    "concentrated": (
        "popularity_concentration 5: a dozen best-sellers (one per category) take most sales",
        replace(_BASE, customers=300, products=200, popularity_concentration=5.0),
    ),
    "dense_repeat": (
        "repeat_rate 6: grocery-like, most buyers order again, ~12 orders each in the year",
        replace(_BASE, repeat_rate=6.0),
    ),
}

ARCHETYPES: dict[str, ShopConfig] = {name: config for name, (_, config) in _SPECS.items()}
DESCRIPTIONS: dict[str, str] = {name: text for name, (text, _) in _SPECS.items()}
