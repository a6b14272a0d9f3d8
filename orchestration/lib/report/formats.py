"""Numbers for people (counts, shares, money in the deployment's currency) and the tables
the template receives."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "INR": "₹"}


@dataclass
class HtmlTable:
    """A table for the template: headers, rows of formatted cells, and which columns are
    numeric (right-aligned)."""

    headers: list[str]
    rows: list[list[str | tuple[str, str]]]  # a cell is text, or (text, detail on a 2nd line)
    numeric: list[bool]
    caption: str = ""


@dataclass(frozen=True)
class Formats:
    currency: str

    def money(self, value: object, decimals: int | None = None) -> str:
        if value is None or pd.isna(value):
            return "–"
        number = float(value)
        if decimals is None:
            decimals = 0 if abs(number) >= 1000 else 2
        symbol = CURRENCY_SYMBOLS.get(self.currency)
        sign = "−" if number < 0 else ""
        amount = f"{abs(number):,.{decimals}f}"
        return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {self.currency}"

    @staticmethod
    def percent(value: object, decimals: int = 1) -> str:
        if value is None or pd.isna(value):
            return "–"
        return f"{float(value) * 100:.{decimals}f} %"

    @staticmethod
    def points(value: object) -> str:
        """A difference of two rates, in percentage points, signed."""
        if value is None or pd.isna(value):
            return "–"
        return f"{float(value) * 100:+.1f} pp"

    @staticmethod
    def count(value: object) -> str:
        if value is None or pd.isna(value):
            return "–"
        return f"{int(value):,}"

    @staticmethod
    def number(value: object, decimals: int = 2) -> str:
        if value is None or pd.isna(value):
            return "–"
        return f"{float(value):,.{decimals}f}"

    @staticmethod
    def text(value: object) -> str:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return "–"
        if isinstance(value, bool | np.bool_):
            return "yes" if value else "no"
        return str(value)


def _humanize(column: str) -> str:
    return column.replace("_", " ").capitalize()
