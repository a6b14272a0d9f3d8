"""The shop's vocabularies, read from the dbt seeds so Python and SQL share one definition.

The seeds (dbt_project/seeds/order_statuses.csv, event_types.csv) are the one place the order
statuses and browsing event types are written; dbt joins them, Python reads them here.
"""

import csv
import functools
from pathlib import Path

SEEDS_DIR = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"


def _column(seed: str, column: str) -> tuple[str, ...]:
    with (SEEDS_DIR / f"{seed}.csv").open(newline="", encoding="utf-8") as file:
        return tuple(row[column] for row in csv.DictReader(file))


@functools.cache
def order_statuses() -> tuple[str, ...]:
    """Every order status a line can carry, in the seed's order (`refund`: a return invoice)."""
    return _column("order_statuses", "status")


@functools.cache
def event_types() -> tuple[str, ...]:
    """Every browsing event type of the web events, in the seed's order."""
    return _column("event_types", "event_type")
