"""`make benchmark`'s parts: SIZE parsing, result file names, stage attribution of memory
samples and step times, the table, and its pandas computation of the customer features against the
dbt model on the session's warehouse. The benchmark itself is run by hand."""

import duckdb
import numpy as np
import pytest

from landing import load_config, load_source
from landing.read import _line_numbers as _exact_line_numbers
from orchestration.benchmark import (
    OUTSIDE_STEPS,
    STAGES,
    StepWindow,
    comparison_rows,
    markdown_table,
    parse_size,
    size_label,
    stage_peaks,
    stage_seconds,
)
from orchestration.benchmark_features import pandas_features
from orchestration.benchmark_lines import (
    KINDS,
    TABLE,
    check,
    generate,
    parse_bytes,
    write_config,
)
from orchestration.benchmark_lines import size_label as size_label_bytes
from orchestration.settings import get_settings


@pytest.mark.parametrize(
    ("text", "customers"),
    [
        ("30k", 30_000),
        ("300K", 300_000),
        ("1m", 1_000_000),
        ("1.5m", 1_500_000),
        ("3000", 3_000),
        ("30_000", 30_000),
        (" 2k ", 2_000),
    ],
)
def test_parse_size(text: str, customers: int) -> None:
    assert parse_size(text) == customers


@pytest.mark.parametrize("text", ["", "k", "0", "-5", "1.5", "30g", "1e6", "0.0001k"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="SIZE="):
        parse_size(text)


@pytest.mark.parametrize(
    ("customers", "label"),
    [
        (30_000, "30k"),
        (300_000, "300k"),
        (1_000_000, "1m"),
        (2_000, "2000"),
        (3_000, "3000"),
        (1_500_000, "1500k"),
        (12_345, "12345"),
    ],
)
def test_size_label(customers: int, label: str) -> None:
    assert size_label(customers) == label
    assert parse_size(label) == customers


WINDOWS = [
    StepWindow("dbt models", 110.0, 120.0),
    StepWindow("ingestion", 100.0, 105.0),
    StepWindow("ingestion", 105.5, 108.0),
    StepWindow("model training", 130.0, 150.0),
]


def test_stage_seconds_sums_steps_and_keeps_the_rest_outside() -> None:
    seconds = stage_seconds(WINDOWS, total_seconds=60.0)
    assert seconds["ingestion"] == pytest.approx(7.5)
    assert seconds["dbt models"] == pytest.approx(10.0)
    assert seconds["model training"] == pytest.approx(20.0)
    assert seconds["scoring"] == 0.0
    assert seconds[OUTSIDE_STEPS] == pytest.approx(60.0 - 37.5)
    assert list(seconds) == [*STAGES, OUTSIDE_STEPS]


def test_stage_seconds_never_negative_outside() -> None:
    assert stage_seconds(WINDOWS, total_seconds=10.0)[OUTSIDE_STEPS] == 0.0


def test_stage_peaks_attribute_each_sample_to_the_running_step() -> None:
    samples = [
        (99.0, 500),  # process start: outside any step
        (101.0, 800),
        (105.2, 2_000),  # between two ingestion steps: outside
        (107.0, 900),
        (115.0, 1_500),
        (120.0, 1_700),  # a window's end is inclusive
        (140.0, 3_000),
        (160.0, 400),
    ]
    peaks = stage_peaks(samples, WINDOWS)
    assert peaks == {
        OUTSIDE_STEPS: 2_000,
        "ingestion": 900,
        "dbt models": 1_700,
        "model training": 3_000,
    }


def test_stage_peaks_without_samples() -> None:
    assert stage_peaks([], WINDOWS) == {}


def test_markdown_table_lines_up() -> None:
    text = markdown_table(["stage", "wall"], [["ingestion", "7.1 s"], ["scoring", "12.0 s"]])
    lines = text.splitlines()
    assert lines[0] == "| stage     |   wall |"
    assert lines[1] == "|-----------|-------:|"
    assert lines[2] == "| ingestion |  7.1 s |"
    assert len({len(line) for line in lines}) == 1


def _result(scale: float) -> dict:
    return {
        "generator": {"seconds": 10.0 * scale, "peak_rss_bytes": 1024**3},
        "runs": {
            "full_2": {
                "title": "full refresh 2",
                "total_seconds": 80.0 * scale,
                "peak_rss_bytes": 2 * 1024**3,
            }
        },
        "code_location": {"seconds": 3.0},
        "side_by_side": {
            "dbt": {"models_seconds": 2.0},
            "duckdb_group_by": {"seconds": 0.5},
            "pandas": {"compute_seconds": 8.0},
        },
    }


def test_comparison_with_the_previous_result() -> None:
    rows = {row[0]: row[1:] for row in comparison_rows(_result(1.0), _result(1.5))}
    assert rows["full refresh 2 wall"] == ["80.0 s", "120 s", "1.50"]
    assert rows["code location load"] == ["3.0 s", "3.0 s", "1.00"]
    assert comparison_rows({"something": "else"}, _result(1.0)) == []


# ----------------------------------------------------------------------------------------------
# `--lines`: the line-numbering benchmark's generator and check, on a tiny file (the benchmark
# itself, 200MB and 2GB, is run by hand).


@pytest.mark.parametrize(
    ("text", "size", "label"),
    [("2GB", 2_000_000_000, "2GB"), ("200mb", 200_000_000, "200MB"), ("1.5GB", 1_500_000_000,
     "1500MB"), ("1MiB", 1_048_576, "1048576B"), ("500kB", 500_000, "500kB")],
)  # fmt: skip
def test_lines_sizes(text: str, size: int, label: str) -> None:
    assert parse_bytes(text) == size
    assert size_label_bytes(size) == label


@pytest.mark.parametrize("text", ["", "GB", "2TB", "-1GB", "10"])
def test_lines_sizes_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="--lines"):
        parse_bytes(text)


def _load_lines(folder, size: int = 1_000_000):
    generated = generate(folder / "landing" / "lines.csv", size, progress=False)
    conn = duckdb.connect(str(folder / "warehouse.duckdb"))
    report = load_source(conn, load_config(write_config(folder)), TABLE)
    return generated, conn, report


def test_lines_generator_is_reproducible_and_has_every_bad_kind(tmp_path) -> None:
    first = generate(tmp_path / "a.csv", 1_000_000, progress=False)
    second = generate(tmp_path / "b.csv", 1_000_000, progress=False)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert first.size == (tmp_path / "a.csv").stat().st_size >= 1_000_000
    data = (tmp_path / "a.csv").read_bytes()
    assert first.lines == data.count(b"\n")
    assert np.array_equal(first.bad_lines, second.bad_lines)
    assert all(count > 0 for count in first.kind_counts().values())
    lines = data.split(b"\n")
    for line, code in zip(first.bad_lines.tolist(), first.bad_kinds.tolist(), strict=True):
        text = lines[line - 1]
        kind = KINDS[code - 1]
        if kind == "blank":
            assert text == b""
        else:  # each record starts with its own line number
            assert text.lstrip(b"C").startswith(f"{line},".encode()), (kind, text)
        if kind == "bytes":
            assert b"\xe9" in text


def test_lines_check_passes_on_exact_numbers_and_fails_on_one_wrong_line(tmp_path) -> None:
    generated, conn, report = _load_lines(tmp_path)
    with conn:
        result = check(conn, generated)
        assert result["problems"] == []
        assert result["exact"]
        assert (report.rows_read, report.rows_loaded) == (generated.records, generated.loaded)
        assert result["loaded_rows_checked"] == generated.loaded
        conn.execute(
            "update raw.quarantine set row_number = row_number + 1 where row_number = "
            "(select max(row_number) from raw.quarantine)"
        )
        conn.execute(
            "update raw.order_lines set _row_number = _row_number - 1 where _row_number = "
            "(select max(_row_number) from raw.order_lines)"
        )
        problems = check(conn, generated)["problems"]
    assert any("quarantined but not expected [" in problem for problem in problems)
    assert any(problem.startswith("raw.order_lines: 1 rows whose") for problem in problems)


def test_lines_check_fails_when_numbering_ignores_line_breaks_and_blanks(
    tmp_path, monkeypatch
) -> None:
    """Numbering each record as one line (the old behaviour, which the loader falls back to when
    the scan disagrees with DuckDB) is caught, for loaded and quarantined rows alike."""
    monkeypatch.setattr("landing.read._line_numbers", _item_numbers)
    generated, conn, _ = _load_lines(tmp_path)
    with conn:
        result = check(conn, generated)
    assert not result["exact"]
    assert any(problem.startswith("quarantine:") for problem in result["problems"])
    assert any("not the line in their Invoice" in problem for problem in result["problems"])


def _item_numbers(starts, records, good, rejected):
    return _exact_line_numbers([(0, 2, 2)], None, good, rejected)


def test_pandas_computes_every_feature_of_the_model_and_agrees_with_it(pipeline_run) -> None:
    """The benchmark's pandas side is the same work as the dbt model (every feature, every
    snapshot), so its time is a fair comparison; and a change to a feature's definition on one
    side only fails here (the two are written independently)."""
    result = pandas_features(get_settings().duckdb_path)
    assert result["mismatched_values"] == {}
    assert result["rows"] > 10_000
    assert {"sessions_365d", "days_since_last_review", "spend_share_books"} <= set(
        result["features"]
    )
