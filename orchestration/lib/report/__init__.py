"""The marketing report: one self-contained HTML file (charts inline as SVG, no external CSS,
scripts, fonts or images) that marketers open offline in a browser.

Each section reads one scored table with a query. A table that does not exist yet, or is empty,
gives a section that says so plainly; a table that exists without a column the report reads is
a bug and raises ReportDataError naming the table and the column.

    report = build_report(conn)        # sections + HTML
    html = render_report(conn)         # the HTML only
    path = write_report(conn, path)    # written under a temporary name, then renamed

The package: tables (reading the scored tables, their column contracts), formats (numbers
for people, HtmlTable), charts (matplotlib figures inlined as SVG), sections (one function per
section); the page itself is templates/marketing_report.html.j2. Formats, charts and sections
(pandas, matplotlib) are imported by `build_report`, so importing the package stays cheap for
the Dagster code location.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import jinja2

from orchestration.lib.report.tables import (
    AUDIENCE_COLUMNS,
    CAMPAIGN_RESULT_COLUMNS,
    COVERAGE_COLUMNS,
    CUSTOMER_VALUE_COLUMNS,
    RECOMMENDED_PRODUCT_COLUMNS,
    REPORT_TABLES,
    RETENTION_LIST_COLUMNS,
    SEGMENT_PROFILE_COLUMNS,
    ReportDataError,
    _as_of,
)
from orchestration.settings import get_settings

if TYPE_CHECKING:
    from orchestration.lib.report.sections import Section

__all__ = [
    "AUDIENCE_COLUMNS",
    "CAMPAIGN_RESULT_COLUMNS",
    "COVERAGE_COLUMNS",
    "CUSTOMER_VALUE_COLUMNS",
    "RECOMMENDED_PRODUCT_COLUMNS",
    "REPORT_TABLES",
    "RETENTION_LIST_COLUMNS",
    "SEGMENT_PROFILE_COLUMNS",
    "Report",
    "ReportDataError",
    "build_report",
    "render_report",
    "write_report",
]

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE = "marketing_report.html.j2"


@dataclass
class Report:
    html: str
    sections: list[Section]

    @property
    def rendered(self) -> list[str]:
        return [s.key for s in self.sections if s.rendered]

    @property
    def empty(self) -> list[str]:
        return [s.key for s in self.sections if not s.rendered]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def build_report(
    conn: duckdb.DuckDBPyConnection,
    currency: str | None = None,
    shop: str | None = None,
    generated_at: datetime | None = None,
) -> Report:
    """Every section read from the warehouse and the HTML page built from them. `currency`
    and `shop` default to the deployment's config."""
    from orchestration.lib.report.charts import _Charts
    from orchestration.lib.report.formats import Formats
    from orchestration.lib.report.sections import SECTIONS

    if currency is None or shop is None:
        config = get_settings().config
        currency = currency or config.currency
        shop = shop or config.name
    fmt = Formats(currency)
    charts = _Charts()
    sections = [build(conn, fmt, charts) for build in SECTIONS]
    html = (
        _environment()
        .get_template(TEMPLATE)
        .render(
            shop=shop,
            as_of=_as_of(conn),
            generated_at=(generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
            currency=currency,
            sections=sections,
        )
    )
    return Report(html, sections)


def render_report(conn: duckdb.DuckDBPyConnection, currency: str | None = None) -> str:
    """The report as one self-contained HTML page."""
    return build_report(conn, currency).html


def write_report(conn: duckdb.DuckDBPyConnection, path: Path, report: Report | None = None) -> Path:
    """Write the report (built from `conn` unless given) to `path` under a temporary name,
    then rename it, so a browser never opens a half-written file."""
    report = report or build_report(conn)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(report.html, encoding="utf-8")
    temporary.replace(path)
    return path
