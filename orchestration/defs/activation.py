"""Checks on the activation tables (dbt models in `scores`, built by `dbt_activation`).

`retention_list_coverage` on scores/retention_list reads the one-row model
scores.retention_list_coverage: the list must hold min(retention_list_size, customers with a value
at risk) customers and cover at least as much value at risk as a list of the same length chosen
by churn probability alone. Its numbers go in the check's metadata.
"""

import dagster as dg
import duckdb as duckdb_lib

from orchestration.lib.warehouse import WarehouseResource
from orchestration.settings import DUCKDB_POOL, SCORES_SCHEMA

# Rounding slack when comparing two sums of the same doubles in a different order.
_TOLERANCE = 1e-9


def coverage_verdict(row: dict) -> tuple[bool, str]:
    """Whether a retention_list_coverage row passes, and why (or why not)."""
    expected = min(row["configured_size"], row["customers_with_value_at_risk"])
    if row["list_size"] != expected:
        return False, (
            f"the list has {row['list_size']} customers, expected {expected} = min(retention_list_size "
            f"{row['configured_size']}, customers with a value at risk {row['customers_with_value_at_risk']})"
        )
    listed, by_probability = row["list_value_at_risk"], row["probability_list_value_at_risk"]
    if listed < by_probability - _TOLERANCE * max(1.0, abs(by_probability)):
        return False, (
            f"the list covers {listed:,.2f} of value at risk, less than the {by_probability:,.2f} of "
            "the same number of customers chosen by churn probability alone"
        )
    return True, (
        f"{row['list_size']} customers cover {listed:,.2f} of value at risk "
        f"(churn probability alone: {by_probability:,.2f})"
    )


@dg.asset_check(
    asset=dg.AssetKey([SCORES_SCHEMA, "retention_list"]),
    name="retention_list_coverage",
    description=(
        "The retention list has min(retention_list_size, customers with a value at risk) rows and "
        "covers at least the value at risk of the same number of customers ranked by churn "
        "probability alone (scores.retention_list_coverage)."
    ),
    additional_deps=[dg.AssetKey([SCORES_SCHEMA, "retention_list_coverage"])],
    pool=DUCKDB_POOL,
)
def retention_list_coverage(duckdb: WarehouseResource) -> dg.AssetCheckResult:
    try:
        with duckdb.get_connection() as conn:
            frame = conn.execute(f"select * from {SCORES_SCHEMA}.retention_list_coverage").df()
    except duckdb_lib.CatalogException as error:
        return dg.AssetCheckResult(passed=False, metadata={"error": str(error)})
    if len(frame) != 1:
        return dg.AssetCheckResult(
            passed=False, metadata={"error": f"expected one coverage row, found {len(frame)}"}
        )
    row = {key: (None if value != value else value) for key, value in frame.iloc[0].items()}
    row = {key: (value.item() if hasattr(value, "item") else value) for key, value in row.items()}
    passed, verdict = coverage_verdict(row)
    metadata = {key: value for key, value in row.items() if value is not None}
    return dg.AssetCheckResult(passed=passed, metadata={**metadata, "verdict": verdict})


activation_checks = [retention_list_coverage]
