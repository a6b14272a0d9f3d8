"""File exports: text that spreadsheets would execute reaches CSV files only as text."""

import duckdb
import pandas as pd
import pytest

from orchestration.lib.warehouse import export_table

DANGEROUS = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+2",
    "-2+3",
    "@SUM(A1:A9)",
    "\tx",
    "\rx",
]


@pytest.fixture
def conn():
    with duckdb.connect() as connection:
        connection.execute("create schema scores")
        values = DANGEROUS + ["Champions", "a=b", "-"]
        connection.execute(
            "create table scores.t as select unnest(?) as segment, -1.5 as score, 7 as rank",
            [values],
        )
        yield connection


def test_csv_export_escapes_formula_cells_and_keeps_numbers(conn, tmp_path):
    path = export_table(conn, "scores", "t", tmp_path / "t.csv")
    frame = pd.read_csv(path, dtype={"segment": str}, keep_default_na=False)
    escaped = dict(zip(DANGEROUS + ["Champions", "a=b", "-"], frame["segment"], strict=True))
    for value in DANGEROUS + ["-"]:
        assert escaped[value].startswith("'") and escaped[value][1:].strip() == value.strip()
    assert escaped["Champions"] == "Champions" and escaped["a=b"] == "a=b"
    assert (frame["score"] == -1.5).all() and (frame["rank"] == 7).all()
    assert not list(tmp_path.glob("*.tmp"))


def test_parquet_export_keeps_values_unchanged(conn, tmp_path):
    frame = pd.read_parquet(export_table(conn, "scores", "t", tmp_path / "t.parquet"))
    assert list(frame["segment"][: len(DANGEROUS)]) == DANGEROUS


def test_unknown_export_format_is_refused(conn, tmp_path):
    with pytest.raises(ValueError, match="csv or .parquet"):
        export_table(conn, "scores", "t", tmp_path / "t.xlsx")
