"""`make benchmark`'s pure parts: SIZE parsing, result file names, stage attribution of memory
samples and step times, the table. No run: the benchmark itself is run by hand."""

import pytest

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
    StepWindow("dbt daily models", 110.0, 120.0),
    StepWindow("ingestion", 100.0, 105.0),
    StepWindow("ingestion", 105.5, 108.0),
    StepWindow("model training", 130.0, 150.0),
]


def test_stage_seconds_sums_steps_and_keeps_the_rest_outside() -> None:
    seconds = stage_seconds(WINDOWS, total_seconds=60.0)
    assert seconds["ingestion"] == pytest.approx(7.5)
    assert seconds["dbt daily models"] == pytest.approx(10.0)
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
        "dbt daily models": 1_700,
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
