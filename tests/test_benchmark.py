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
    growth,
    growth_lines,
    markdown_table,
    parse_size,
    size_label,
    stage_peaks,
    stage_seconds,
)
from orchestration.benchmark_features import pandas_features
from orchestration.benchmark_fresh import PhaseClock, fresh_environment
from orchestration.benchmark_lines import (
    KINDS,
    TABLE,
    check,
    generate,
    parse_bytes,
    write_config,
)
from orchestration.benchmark_lines import size_label as size_label_bytes
from orchestration.settings import REPO_ROOT, get_settings


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


def _sized(size: str, customers: int, seconds: dict[str, float], commit: str = "abc") -> dict:
    """A result whose runs' stages take `seconds` (the others 0)."""
    run = {
        "title": "full refresh 2",
        "total_seconds": sum(seconds.values()),
        "stages": {
            stage: {"seconds": seconds.get(stage, 0.0)} for stage in (*STAGES, OUTSIDE_STEPS)
        },
    }
    return {
        "size": size,
        "customers": customers,
        "date": "2026-12-03",
        "git": {"commit": commit},
        "generator": {"seconds": 10.0},
        "raw_rows": {"order_lines": customers * 8, "web_events": customers * 100},
        "runs": {"full_2": run, "one_day": {**run, "title": "one-day refresh"}},
    }


def test_growth_flags_a_stage_growing_faster_than_the_data() -> None:
    small = _sized("300k", 300_000, {"ingestion": 100.0, "dbt models": 50.0, "scoring": 1.0})
    large = _sized("1m", 1_000_000, {"ingestion": 330.0, "dbt models": 200.0, "scoring": 4.0})
    rows = {(row["run"], row["stage"]): row for row in growth(small, large)}
    assert rows["full refresh 2", "ingestion"]["met"] is True
    assert rows["full refresh 2", "ingestion"]["ratio"] == pytest.approx(3.3)
    assert rows["one-day refresh", "dbt models"]["met"] is False  # 4x
    assert rows["full refresh 2", "scoring"]["met"] is None  # under 5 s at both sizes
    assert rows["full refresh 2", "total"]["ratio"] == pytest.approx(534 / 151)
    text = "\n".join(growth_lines(small, large))
    assert "MISSED" in text and "different commits" not in text
    assert "order lines and web events 3.33x" in text
    other = _sized("1m", 1_000_000, {"ingestion": 330.0}, commit="def")
    assert "different commits" in "\n".join(growth_lines(small, other))


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


# ----------------------------------------------------------------------------------------------
# `--fresh-clone`: the phases of `make run`'s output and a new user's environment (the benchmark
# itself, a clone and an install, is run by hand).


def test_fresh_clone_phases_start_at_their_marker_and_end_at_the_next(monkeypatch) -> None:
    clock = PhaseClock(started=0.0, marks={})
    output = [
        (0.1, "test -x .venv/bin/python || python3 -m venv .venv"),
        (1.0, ".venv/bin/pip install --quiet -e '.[dev]'"),
        (90.0, "cd dbt_project && ../.venv/bin/dbt parse --profiles-dir . --quiet"),
        (95.0, ".venv/bin/python -m orchestration.cli run"),
        (96.0, "Generating the synthetic shop ..."),
        (105.0, "Refreshing days 2024-10-01..2026-12-03 and every asset downstream"),
        (150.0, "Refreshing days (a second mention is not a new phase)"),
    ]
    for at, line in output:
        monkeypatch.setattr("orchestration.benchmark_fresh.time.perf_counter", lambda at=at: at)
        clock.see(line)
    assert clock.seconds(total=170.0) == {
        "install": pytest.approx(89.9),
        "dbt parse": pytest.approx(5.0),
        "generate the shop": pytest.approx(10.0),
        "full refresh": pytest.approx(65.0),
    }
    assert PhaseClock(0.0, {"install": 0.0}).seconds(10.0)["full refresh"] is None


def test_fresh_clone_environment_is_a_new_users(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SHOP_CONFIG", "/somewhere/config.yml")
    monkeypatch.setenv("DUCKDB_PATH", "/somewhere/warehouse.duckdb")
    monkeypatch.setenv("VIRTUAL_ENV", str(REPO_ROOT / ".venv"))
    monkeypatch.setenv("PATH", f"{REPO_ROOT / '.venv' / 'bin'}:/usr/bin")
    env = fresh_environment(tmp_path)
    assert "SHOP_CONFIG" not in env and "DUCKDB_PATH" not in env and "VIRTUAL_ENV" not in env
    assert env["PATH"] == "/usr/bin"
    assert env["PIP_NO_CACHE_DIR"] == "1" and env["HOME"] == str(tmp_path)
