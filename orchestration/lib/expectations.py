"""Run Great Expectations 1.x suites kept as JSON files in expectations/.

Each suite file names the warehouse table it validates and the Dagster asset it belongs to in
its `meta`. Validation goes through GE's pandas path: GE's SQL path on DuckDB returns wrong
failures (see README, "Data quality"), so the referenced columns are pulled into pandas first.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class SuiteFile:
    """A suite on disk and what it checks."""

    name: str
    path: Path
    table: str  # schema.table in the warehouse
    asset_key: tuple[str, ...]
    blocking: bool
    description: str

    @property
    def columns(self) -> list[str]:
        """Columns the suite's expectations reference, in first-seen order."""
        seen: dict[str, None] = {}
        for expectation in self.definition()["expectations"]:
            kwargs = expectation.get("kwargs", {})
            named = [kwargs.get(key) for key in ("column", "column_A", "column_B")]
            for column in [*named, *kwargs.get("column_list", [])]:
                if column:
                    seen[column] = None
        return list(seen)

    def definition(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())


@dataclass(frozen=True)
class Failure:
    expectation: str
    column: str | None
    observed: str
    details: str


@dataclass(frozen=True)
class Outcome:
    success: bool
    evaluated: int
    failures: list[Failure]


def discover_suites(directory: Path) -> list[SuiteFile]:
    """Every `*.json` suite in `directory`, with its target table and asset from `meta`."""
    suites = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text())
        meta = data.get("meta", {})
        missing = [key for key in ("table", "asset_key") if key not in meta]
        if missing:
            raise ValueError(
                f"{path}: suite meta is missing {missing} (expected the table and asset it checks)"
            )
        suites.append(
            SuiteFile(
                name=data["name"],
                path=path,
                table=meta["table"],
                asset_key=tuple(meta["asset_key"]),
                blocking=bool(meta.get("blocking", False)),
                description=meta.get("description", f"Great Expectations suite {data['name']}"),
            )
        )
    return suites


@cache
def _context() -> Any:
    # GE sends usage analytics unless told otherwise before its import; this machine is offline.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _describe(result: dict[str, Any]) -> tuple[str, str]:
    if "observed_value" in result:
        return str(result["observed_value"]), ""
    count = result.get("unexpected_count")
    percent = result.get("unexpected_percent")
    sample = result.get("partial_unexpected_list", [])[:5]
    observed = f"{count} unexpected values" if count is not None else "failed"
    if percent is not None:
        observed += f" ({percent:.2f}%)"
    return observed, f"examples: {sample}" if sample else ""


def validate(frame: pd.DataFrame, suite: SuiteFile) -> Outcome:
    """Validate `frame` against the suite; return which expectations failed and what was seen."""
    import great_expectations as gx

    context = _context()
    definition = suite.definition()
    gx_suite = gx.ExpectationSuite(name=definition["name"], expectations=definition["expectations"])
    if len(gx_suite.expectations) != len(definition["expectations"]):
        # GE logs and drops an expectation it cannot build (e.g. a misspelled type): fail instead.
        known = {e.expectation_type for e in gx_suite.expectations}
        dropped = [e["type"] for e in definition["expectations"] if e["type"] not in known]
        raise ValueError(
            f"{suite.path}: invalid expectations {dropped}; check each 'type' and its kwargs"
        )
    source_name = f"frames_{suite.name}"
    try:
        source = context.data_sources.get(source_name)
    except Exception:  # not registered yet in this process
        source = context.data_sources.add_pandas(source_name)
    try:
        batch_definition = source.get_asset("frame").get_batch_definition("whole")
    except Exception:
        batch_definition = source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe(
            "whole"
        )
    result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(gx_suite)

    failures = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        observed, details = _describe(item.result or {})
        if item.exception_info and item.exception_info.get("raised_exception"):
            details = item.exception_info.get("exception_message", "") or details
        failures.append(Failure(config.type, config.kwargs.get("column"), observed, details))
    return Outcome(success=bool(result.success), evaluated=len(result.results), failures=failures)
