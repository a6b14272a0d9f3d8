"""`scores.model_runs`: one row per training run of any model, with its holdout metrics, its
baselines, the current model it was compared with, the promotion gate's decision, and the SHA-256
of the saved model file."""

from __future__ import annotations

import json
from typing import Any

import duckdb

from orchestration.settings import MODEL_RUNS_TABLE, SCORES_SCHEMA

TARGET = f"{SCORES_SCHEMA}.{MODEL_RUNS_TABLE}"
COLUMNS = {
    "dagster_run_id": "varchar",
    "model": "varchar",
    "version": "varchar",
    # SHA-256 of the version's model.joblib, computed at save time (as in its metadata.json);
    # loading recomputes it and refuses a file that no longer matches.
    "model_sha256": "varchar",
    "trained_at": "timestamp",
    "train_start": "date",
    "train_end": "date",
    "holdout_start": "date",
    "holdout_end": "date",
    "metric": "varchar",
    "higher_is_better": "boolean",
    "value": "double",
    "best_baseline": "varchar",
    "best_baseline_value": "double",
    "current_version": "varchar",
    "current_value": "double",
    "promoted": "boolean",
    "gate_reason": "varchar",
    "train_seconds": "double",
    "metrics": "json",  # every metric of the model and of each baseline on the holdout
}


def record_model_run(conn: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> None:
    """Append one training run (keys of COLUMNS; `metrics` a dict)."""
    unknown = set(row) - set(COLUMNS)
    if unknown:
        raise ValueError(f"model_runs has no column(s) {sorted(unknown)}")
    conn.execute(f"create schema if not exists {SCORES_SCHEMA}")
    conn.execute(
        f"create table if not exists {TARGET} ("
        + ", ".join(f"{name} {dtype}" for name, dtype in COLUMNS.items())
        + ")"
    )
    # A table created before a column was added gets it (null for its older rows).
    existing = {
        column
        for (column,) in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ?",
            [SCORES_SCHEMA, MODEL_RUNS_TABLE],
        ).fetchall()
    }
    for name, dtype in COLUMNS.items():
        if name not in existing:
            conn.execute(f"alter table {TARGET} add column {name} {dtype}")
    values = {**row, "metrics": json.dumps(row.get("metrics", {}), default=float)}
    conn.execute(
        f"insert into {TARGET} ({', '.join(values)}) values ({', '.join('?' * len(values))})",
        list(values.values()),
    )


def latest_model_run(
    conn: duckdb.DuckDBPyConnection, model: str, dagster_run_id: str
) -> dict[str, Any] | None:
    """The newest row for `model` trained in the given Dagster run, or None."""
    exists = conn.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [SCORES_SCHEMA, MODEL_RUNS_TABLE],
    ).fetchone()[0]
    if not exists:
        return None
    cursor = conn.execute(
        f"select * from {TARGET} where model = ? and dagster_run_id = ? "
        "order by trained_at desc limit 1",
        [model, dagster_run_id],
    )
    record = cursor.fetchone()
    if record is None:
        return None
    # DuckDB's own Python values: DATE columns come back as datetime.date.
    row = dict(zip([column[0] for column in cursor.description], record, strict=True))
    row["metrics"] = json.loads(row["metrics"])
    return row
