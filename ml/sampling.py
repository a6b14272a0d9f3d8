"""Bounded samples that do not depend on the rows' order and keep mostly the same keys from one
refresh to the next: the rows whose key columns hash lowest."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def bounded_sample(
    rows: pd.DataFrame, limit: int | None, by: Sequence[str] = ("customer_id", "as_of_date")
) -> pd.DataFrame:
    """`rows`, or at most `limit` of them: those whose values of the `by` columns hash lowest,
    in their order in `rows`."""
    if limit is None or len(rows) <= limit:
        return rows
    hashes = pd.util.hash_pandas_object(rows[list(by)], index=False)
    return rows.iloc[np.sort(np.argpartition(hashes.to_numpy(), limit)[:limit])]


def customer_sample(rows: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """Every row of at most `limit` customers (`customer_id`): those whose ids hash lowest."""
    if limit is None:
        return rows
    customers = pd.DataFrame({"customer_id": pd.unique(rows["customer_id"])})
    if len(customers) <= limit:
        return rows
    kept = bounded_sample(customers, limit, by=["customer_id"])["customer_id"]
    return rows[rows["customer_id"].isin(kept)]
