"""The synthetic shop's static world: its size and time frame (ShopConfig), categories,
brands, names, countries, personas with their hidden behaviour, and seasonality.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

SECONDS_PER_DAY = 86_400

LANDING_TABLES = (
    "customers",
    "products",
    "order_lines",
    "web_events",
    "reviews",
    "campaign_sends",
)
TRUTH_TABLES = ("customers_truth", "future_order_items", "campaigns_truth")


@dataclass(frozen=True)
class ShopConfig:
    """Size, seed, time frame and behaviour knobs of the synthetic shop.

    The defaults are the standard shop; simulator.archetypes.ARCHETYPES holds small shops unlike
    it (one-time buyers, a single product, no product data, no web events, short or old history).

    * ``repeat_rate``: multiplier on how often customers buy again after their first order. Each
      customer's repeat purchase rate is multiplied by it and the dropout probability after each
      transaction becomes ``1 - (1 - p) ** (1 / repeat_rate)``, so a customer's lifetime in days
      stays about the same and the number of orders in it scales with the knob. 0: nobody ever
      orders twice (every customer drops out at the first order); 4: grocery-like repeat buying.
    * ``popularity_concentration``: multiplier on the Zipf exponent (1.1) of product popularity
      within a category. 0: all products of a category equally popular; 4+: the top product of
      each category takes nearly all of its sales.
    * ``products`` may be below the number of categories (even 1): the catalogue then covers
      only some categories and purchases of the others go to the covered ones.
    * ``with_products``: False writes no products table and no reviews (a review needs a
      product), and order lines, web events and the truth's future order items carry a NULL
      product_id.
    * ``with_events``: False writes no web_events table (and skips simulating the sessions).
    """

    customers: int = 30_000
    products: int = 800
    seed: int = 42
    end_date: date = date(2026, 10, 31)  # last day of observed data (inclusive)
    history_days: int = 730  # observed period length
    future_days: int = 90  # truth window after end_date
    repeat_rate: float = 1.0  # repeat buying multiplier; 0 = nobody orders twice
    popularity_concentration: float = 1.0  # multiplier on the within-category Zipf exponent
    with_products: bool = True  # False: no products table, NULL product ids
    with_events: bool = True  # False: no web_events table

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
POPULARITY_EXPONENT = 1.1  # Zipf exponent of product popularity within a category
DISCOUNT_RATES = np.array([0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50])
DISCOUNT_RATE_P = np.array([0.20, 0.25, 0.15, 0.15, 0.08, 0.08, 0.05, 0.04])

# Reviews (simulator.reviews): a minority of customers review; satisfaction drives the ratings.
REVIEWER_SHARE = {  # share of a persona's customers who ever write reviews
    "loyal": 0.35,
    "bargain_hunter": 0.25,
    "big_spender": 0.30,
    "occasional": 0.15,
    "window_shopper": 0.12,
}
SATISFACTION_OFFSET = {  # persona shift of the satisfaction logit
    "loyal": 0.3,
    "bargain_hunter": -0.2,
    "big_spender": 0.1,
    "occasional": 0.0,
    "window_shopper": -0.1,
}
SATISFACTION_BASE = 1.9  # satisfaction = expit(base + offset - w * z(logit p_drop) + noise)
SATISFACTION_DROP_WEIGHT = 0.5  # how strongly satisfaction falls with the dropout probability
SATISFACTION_NOISE = 0.6
REVIEW_NOISE = 0.9  # scale of the logistic noise of a single review around the satisfaction
LAST_ORDER_PENALTY = 1.5  # the order a customer drops out after was a bad experience
RATING_CUTS = np.array([-0.55, 0.0, 0.85, 2.2])  # latent review score -> 1..5 stars
BAD_REVIEW_BOOST = 1.5  # 1-2 star experiences are this much more likely to be reviewed
REVIEW_DELAY_DAYS = (2.0, 2.0, 4.0)  # reviewed ~ order + min + Gamma(shape, scale) days
REVIEW_TEXT_SHARE = 0.65  # share of reviews with a text
REVIEW_TEXTS: tuple[tuple[str, ...], ...] = (  # by rating 1..5
    (
        "Very disappointed, would not buy again.",
        "Broke after a few days.",
        "Not as described. Returning it is a hassle.",
        "Terrible quality.",
    ),
    (
        "Below expectations.",
        "Quality could be better for the price.",
        "Arrived late and feels cheap.",
    ),
    ("It's okay.", "Does the job, nothing special.", "Average quality for the price."),
    ("Good product, happy with it.", "Works well, fast delivery.", "Nice, would recommend."),
    (
        "Excellent, exactly what I wanted!",
        "Love it, great quality.",
        "Perfect, will buy again.",
        "Five stars, highly recommended.",
    ),
)


@dataclass(frozen=True)
class _Campaign:
    kind: str  # campaign_id = f"{kind}_{yyyy_mm}" of the send date
    audience: str
    days_before_end: int  # sent this many days before end_date (at SEND_HOUR)
    effect: float  # probability that a treated customer places one extra order in the window


# Past campaigns (simulator.campaigns), each with a held-out control group.
CAMPAIGN_SPECS: tuple[_Campaign, ...] = (
    _Campaign("winback", "win_back", 150, 0.13),
    _Campaign("newsletter", "newsletter", 100, 0.0),
)
CAMPAIGN_WINDOW_DAYS = 30  # outcome window after sent_at
CAMPAIGN_CONTROL_SHARE = 0.2
CAMPAIGN_SEND_HOUR = 10
WINBACK_MIN_ORDERS = 2  # non-cancelled orders before the send
WINBACK_LAPSED_DAYS = (90, 365)  # last order this many days before the send
NEWSLETTER_ACTIVE_DAYS = 180  # ordered within this many days before the send
NEWSLETTER_SAMPLE = 0.5  # share of the active customers sampled
CAMPAIGN_RESPONSE_DAYS = 7.0  # mean delay of an extra order (exponential, cut at the window)
