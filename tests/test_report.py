"""The marketing report (orchestration/lib/report/, asset scores/marketing_report): built in the
session's refresh, self-contained (nothing fetched), and rendered by a real browser offline with
its sections, charts and tables. Also rendered on a scratch warehouse whose tables are missing,
empty or lacking a column."""

import re
import shutil
from pathlib import Path

import duckdb
import pytest
from test_ui import CHROMIUM, CHROMIUM_ARGS

from orchestration.lib.report import (
    AUDIENCE_COLUMNS,
    CAMPAIGN_RESULT_COLUMNS,
    COVERAGE_COLUMNS,
    CUSTOMER_VALUE_COLUMNS,
    RECOMMENDED_PRODUCT_COLUMNS,
    RETENTION_LIST_COLUMNS,
    SEGMENT_PROFILE_COLUMNS,
    ReportDataError,
    build_report,
    render_report,
)

SECTION_TITLES = {
    "segments": "Customer segments",
    "audiences": "Audiences",
    "retention": "Retention list",
    "value": "Customer value",
    "recommendations": "Product recommendations",
    "campaigns": "Campaign results",
}
# Each section's table, and how many charts the section draws when the table has rows.
SECTION_TABLES = {
    "segments": ("segment_profiles", 1),
    "audiences": ("audiences", 1),
    "retention": ("retention_list", 0),  # + 1 for the coverage chart, counted below
    "value": ("customer_value", 1),
    "recommendations": ("recommended_products", 0),
    "campaigns": ("campaign_results", 1),
}
# An attribute or CSS reference that would make the browser fetch something from elsewhere.
EXTERNAL_REFERENCE = re.compile(
    r"""(?:\b(?:src|href|action|poster|srcset|data)\s*=\s*["']?\s*(?:https?:)?//)"""
    r"""|(?:url\(\s*["']?\s*(?:https?:)?//)|@import""",
    re.IGNORECASE,
)


def _rows(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    exists = conn.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'scores' and table_name = ?",
        [table],
    ).fetchone()[0]
    return conn.execute(f"select count(*) from scores.{table}").fetchone()[0] if exists else 0


@pytest.fixture(scope="module")
def report_path(pipeline_run) -> Path:
    from orchestration.settings import get_settings

    return get_settings().marketing_report


def test_report_asset_materialized_in_the_refresh(pipeline_run, report_path, warehouse):
    materializations = pipeline_run.asset_materializations_for_node("scores__marketing_report")
    assert len(materializations) == 1
    metadata = materializations[0].metadata
    assert metadata["path"].value == str(report_path)
    assert report_path.is_file()
    assert metadata["size_bytes"].value == report_path.stat().st_size > 10_000
    rendered = set(metadata["sections_rendered"].value)
    empty = set(metadata["sections_empty"].value)
    assert rendered | empty == set(SECTION_TITLES) and not rendered & empty
    for section, (table, _) in SECTION_TABLES.items():
        assert (section in rendered) == (_rows(warehouse, table) > 0), section


def test_report_is_self_contained(report_path):
    html = report_path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert EXTERNAL_REFERENCE.search(html) is None, EXTERNAL_REFERENCE.search(html)
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "<img" not in html.lower() or "data:image/" in html


def test_report_renders_offline_in_a_browser(report_path, warehouse, tmp_path):
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian chromium is not installed (make browser installs it; CI does)")
    from playwright.sync_api import sync_playwright

    with_rows = {s for s, (table, _) in SECTION_TABLES.items() if _rows(warehouse, table) > 0}
    expected_charts = sum(SECTION_TABLES[s][1] for s in with_rows)
    if "retention" in with_rows and _rows(warehouse, "retention_list_coverage") > 0:
        expected_charts += 1
    blocked, errors = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def route(request_route):
            if request_route.request.url.startswith("file://"):
                request_route.continue_()
            else:
                blocked.append(request_route.request.url)
                request_route.abort()

        page.route("**/*", route)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report_path.as_uri(), wait_until="load")
        page.screenshot(path=tmp_path / "marketing_report.png", full_page=True)

        headings = page.locator("section.card h2").all_inner_texts()
        assert [re.sub(r"^\d+\.\s*", "", h) for h in headings] == list(SECTION_TITLES.values())
        for key in SECTION_TITLES:
            section = page.locator(f"section[data-section='{key}']")
            state = section.get_attribute("data-state")
            assert state == ("rendered" if key in with_rows else "empty"), key
            if key in with_rows:
                if key != "value":  # the value section is a chart and headline numbers
                    assert section.locator("tbody tr").count() > 0, key
            else:
                assert section.locator("p.empty").inner_text().strip(), key
        charts = page.locator("figure.chart svg").all()
        assert len(charts) == expected_charts >= 1
        for chart in charts:
            box = chart.bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 50
        if "retention" in with_rows:
            rows = page.locator("section[data-section='retention'] tbody tr").count()
            assert rows == min(20, _rows(warehouse, "retention_list"))
        if "recommendations" in with_rows:
            names = page.locator("section[data-section='recommendations'] tbody td:nth-child(2)")
            assert not any(n.startswith("product ") for n in names.all_inner_texts())
        browser.close()
    assert blocked == []
    assert errors == []


# --- A scratch warehouse: tables missing, empty, or missing a column -------------------------

_EMPTY_TABLES = {
    "segment_profiles": SEGMENT_PROFILE_COLUMNS,
    "audiences": AUDIENCE_COLUMNS,
    "retention_list": RETENTION_LIST_COLUMNS,
    "retention_list_coverage": COVERAGE_COLUMNS,
    "customer_value": CUSTOMER_VALUE_COLUMNS,
    "recommended_products": RECOMMENDED_PRODUCT_COLUMNS,
    "campaign_results": CAMPAIGN_RESULT_COLUMNS,
}


def _scratch(tables: dict[str, tuple[str, ...]]) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("create schema scores")
    for table, columns in tables.items():
        definition = ", ".join(f'"{c}" varchar' for c in columns)
        conn.execute(f"create table scores.{table} ({definition})")
    return conn


def test_report_with_missing_tables_says_so():
    conn = duckdb.connect()  # not even the schema
    report = build_report(conn, currency="EUR", shop="scratch")
    assert report.rendered == [] and report.empty == list(SECTION_TITLES)
    for section in report.sections:
        assert "does not exist" in section.empty
    assert report.html.count('data-state="empty"') == len(SECTION_TITLES)
    assert "<svg" not in report.html


def test_report_with_empty_tables_says_so():
    conn = _scratch(_EMPTY_TABLES)
    html = render_report(conn, currency="EUR")
    assert html.count('data-state="empty"') == len(SECTION_TITLES)
    assert "No campaign log configured: add a campaign_sends source" in html
    assert "The retention list is empty" in html
    assert "does not exist" not in html


def test_report_missing_column_names_table_and_column():
    tables = dict(_EMPTY_TABLES)
    tables["retention_list"] = tuple(c for c in RETENTION_LIST_COLUMNS if c != "suggested_offer")
    with pytest.raises(ReportDataError, match=r"scores\.retention_list .*'suggested_offer'"):
        render_report(_scratch(tables), currency="EUR")


def test_report_escapes_data_and_formats_numbers():
    conn = _scratch({})
    conn.execute(
        "create table scores.audiences as select 'C' || i as customer_id, 'vip' as audience, "
        "'<script>alert(1)</script>' as reason, 'Send a thank-you note' as suggested_action, "
        "1 as priority, i % 10 = 0 as in_control_group, date '2026-10-31' as as_of_date "
        "from range(40) as r(i)"
    )
    conn.execute(
        "create table scores.customer_value as select 'C' || i as customer_id, 0.5 as p_alive, "
        "1.0 as expected_orders, (i + 1) * 10.0 as expected_revenue from range(100) as r(i)"
    )
    report = build_report(conn, currency="EUR", shop="scratch")
    assert report.rendered == ["audiences", "value"]
    assert "<script>" not in report.html and "&lt;script&gt;" in report.html
    assert "€50,500" in report.html  # the total expected revenue: 10 + 20 + ... + 1,000
    assert "18.9 %" in report.html  # top 10 customers: 9,550 of 50,500
    assert report.html.count("<svg") == 2
