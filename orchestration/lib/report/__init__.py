"""The marketing report: one self-contained HTML file (charts inline as SVG, no external CSS,
scripts, fonts or images) that marketers open offline in a browser.

Each section reads one scored table with a query. A table that does not exist yet, or is empty,
gives a section that says so plainly; a table that exists without a column the report reads is
a bug and raises ReportDataError naming the table and the column.

    report = build_report(conn)        # sections + HTML
    html = render_report(conn)         # the HTML only
    path = write_report(conn, path)    # written under a temporary name, then renamed
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from markupsafe import Markup  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from landing.sql import identifier  # noqa: E402
from orchestration.settings import SCORES_SCHEMA, get_settings  # noqa: E402

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE = "marketing_report.html.j2"
REPORT_FILE = "marketing_report.html"

# The columns the report reads from each table: the contract with the models that write them.
SEGMENT_PROFILE_COLUMNS = (
    "segment_type",
    "segment",
    "customers",
    "customer_share",
    "revenue",
    "revenue_share",
    "mean_churn_probability",
    "mean_expected_revenue",
    "top_categories",
)
AUDIENCE_COLUMNS = (
    "customer_id",
    "audience",
    "reason",
    "suggested_action",
    "priority",
    "in_control_group",
    "as_of_date",
)
RETENTION_LIST_COLUMNS = (
    "rank",
    "customer_id",
    "churn_probability",
    "expected_revenue",
    "value_at_risk",
    "churn_reason",
    "suggested_offer",
    "risk_tier",
    "segment",
    "in_control_group",
    "as_of_date",
)
CUSTOMER_VALUE_COLUMNS = ("customer_id", "p_alive", "expected_orders", "expected_revenue")
RECOMMENDED_PRODUCT_COLUMNS = (
    "customer_id",
    "rank",
    "product_id",
    "product_name",
    "category",
    "price",
    "mean_rating",
    "review_count",
    "score",
    "model",
)
CAMPAIGN_RESULT_COLUMNS = (
    "campaign_id",
    "audience",
    "window_days",
    "outcome_complete",
    "treated_customers",
    "control_customers",
    "treated_conversion_rate",
    "control_conversion_rate",
    "conversion_uplift",
    "conversion_uplift_ci_low",
    "conversion_uplift_ci_high",
    "treated_revenue_per_customer",
    "control_revenue_per_customer",
    "revenue_uplift_per_customer",
    "revenue_uplift_ci_low",
    "revenue_uplift_ci_high",
    "significant",
)
# retention_list_coverage's one row: the list's size, the value at risk it covers, what the same
# number of customers ranked by churn probability alone would cover, their ratio, and the total.
COVERAGE_COLUMNS = (
    "list_size",
    "list_value_at_risk",
    "probability_list_value_at_risk",
    "coverage_ratio",
    "total_value_at_risk",
)
# The tables (in `scores`) the report reads: the report asset depends on each.
REPORT_TABLES = (
    "segment_profiles",
    "audiences",
    "retention_list",
    "retention_list_coverage",
    "customer_value",
    "recommended_products",
    "campaign_results",
)

TOP_RETENTION_ROWS = 20
AUDIENCE_EXAMPLES = 3
RECOMMENDATION_CUSTOMERS = 3
RECOMMENDATIONS_PER_CUSTOMER = 5
VALUE_TOP_SHARE = 0.10

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "INR": "₹"}

# Colours (one palette for every chart).
BLUE, ORANGE, GREY, GREEN, RED = "#2F6690", "#E07A1F", "#9AA5B1", "#3A7D44", "#B23A48"


class ReportDataError(RuntimeError):
    """A table the report reads exists but lacks a column of its contract."""


# ---------------------------------------------------------------------------------------------
# What the template receives


@dataclass
class HtmlTable:
    """A table for the template: headers, rows of formatted cells, and which columns are
    numeric (right-aligned)."""

    headers: list[str]
    rows: list[list[str | tuple[str, str]]]  # a cell is text, or (text, detail on a 2nd line)
    numeric: list[bool]
    caption: str = ""


@dataclass
class Section:
    key: str
    title: str
    intro: str
    empty: str | None = None  # why there is nothing to show; None when the section has content
    facts: list[tuple[str, str]] = field(default_factory=list)  # headline numbers
    sentences: list[str] = field(default_factory=list)
    charts: list[Markup] = field(default_factory=list)
    tables: list[HtmlTable] = field(default_factory=list)
    note: str = ""  # small print under the section

    @property
    def rendered(self) -> bool:
        return self.empty is None


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


# ---------------------------------------------------------------------------------------------
# Numbers for people


@dataclass(frozen=True)
class Formats:
    currency: str

    def money(self, value: object, decimals: int | None = None) -> str:
        if value is None or pd.isna(value):
            return "–"
        number = float(value)
        if decimals is None:
            decimals = 0 if abs(number) >= 1000 else 2
        symbol = CURRENCY_SYMBOLS.get(self.currency)
        sign = "−" if number < 0 else ""
        amount = f"{abs(number):,.{decimals}f}"
        return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {self.currency}"

    @staticmethod
    def percent(value: object, decimals: int = 1) -> str:
        if value is None or pd.isna(value):
            return "–"
        return f"{float(value) * 100:.{decimals}f} %"

    @staticmethod
    def points(value: object) -> str:
        """A difference of two rates, in percentage points, signed."""
        if value is None or pd.isna(value):
            return "–"
        return f"{float(value) * 100:+.1f} pp"

    @staticmethod
    def count(value: object) -> str:
        if value is None or pd.isna(value):
            return "–"
        return f"{int(value):,}"

    @staticmethod
    def number(value: object, decimals: int = 2) -> str:
        if value is None or pd.isna(value):
            return "–"
        return f"{float(value):,.{decimals}f}"

    @staticmethod
    def text(value: object) -> str:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return "–"
        if isinstance(value, bool | np.bool_):
            return "yes" if value else "no"
        return str(value)


def _humanize(column: str) -> str:
    return column.replace("_", " ").capitalize()


# ---------------------------------------------------------------------------------------------
# Reading the tables


def _existing_columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[str] | None:
    """The columns of scores.`table` in order, or None when the table does not exist."""
    rows = conn.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [SCORES_SCHEMA, table],
    ).fetchall()
    return [name for (name,) in rows] or None


def _target(table: str) -> str:
    return f"{identifier(SCORES_SCHEMA)}.{identifier(table)}"


def _require(table: str, columns: list[str], required: Sequence[str]) -> None:
    missing = [c for c in required if c not in columns]
    if missing:
        raise ReportDataError(
            f"{SCORES_SCHEMA}.{table} has no column {', '.join(map(repr, missing))}: the "
            f"marketing report reads {', '.join(required)} (the table has {', '.join(columns)})"
        )


@dataclass
class _Source:
    """A table's state: None columns = missing; rows = its row count."""

    table: str
    columns: list[str] | None
    rows: int

    @property
    def missing(self) -> bool:
        return self.columns is None


def _source(conn: duckdb.DuckDBPyConnection, table: str, required: Sequence[str] = ()) -> _Source:
    columns = _existing_columns(conn, table)
    if columns is None:
        return _Source(table, None, 0)
    _require(table, columns, required)
    rows = conn.execute(f"select count(*) from {_target(table)}").fetchone()[0]
    return _Source(table, columns, int(rows))


def _not_built(table: str, what: str) -> str:
    return (
        f"Not available yet: the table {SCORES_SCHEMA}.{table} does not exist in this "
        f"warehouse, so there are no {what} to show. It appears after a refresh that builds it."
    )


# ---------------------------------------------------------------------------------------------
# Charts: matplotlib figures inlined as SVG


_CHART_STYLE = {
    "svg.fonttype": "none",  # text stays text: crisp, selectable, small
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#8A94A0",
    "axes.labelcolor": "#33404D",
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "xtick.color": "#55606B",
    "ytick.color": "#55606B",
    "axes.grid": True,
    "grid.color": "#E3E7EB",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "legend.frameon": False,
}
_SVG_ID = re.compile(r'\bid="([^"]+)"')
_SVG_REF = re.compile(r'(url\(#|href="#)([^)"]+)')


class _Charts:
    """Gives each chart's SVG element ids a unique prefix: many SVGs share one HTML page, and
    matplotlib names its elements the same way in every figure (figure_1, patch_1, ...)."""

    def __init__(self) -> None:
        self.count = 0

    def svg(self, fig: plt.Figure, label: str) -> Markup:
        self.count += 1
        prefix = f"c{self.count}"
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
        plt.close(fig)
        text = buffer.getvalue()
        text = text[text.index("<svg") :]  # drop the XML declaration and DOCTYPE
        text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
        text = _SVG_ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
        text = _SVG_REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", text)
        text = text.replace("<svg ", f'<svg role="img" aria-label="{_attr(label)}" ', 1)
        return Markup(text)  # noqa: S704 - matplotlib escapes the text it writes


def _attr(text: str) -> str:
    return str(Markup.escape(text))


_thousands = FuncFormatter(lambda value, _: f"{value:,.0f}" if abs(value) >= 10 else f"{value:g}")


_compact = FuncFormatter(
    lambda value, _: (
        f"{value / 1e6:g}M"
        if abs(value) >= 1e6
        else (f"{value / 1e3:g}k" if abs(value) >= 1e3 else f"{value:g}")
    )
)


def _figure(width: float, height: float) -> tuple[plt.Figure, plt.Axes]:
    return plt.subplots(figsize=(width, height))


# ---------------------------------------------------------------------------------------------
# Sections


def segments_section(conn: duckdb.DuckDBPyConnection, fmt: Formats, charts: _Charts) -> Section:
    section = Section(
        "segments",
        "Customer segments",
        "Every customer belongs to one behavioural segment (groups of customers who buy alike) "
        "and one RFM segment (how recently, how often and how much they bought). For each "
        "segment: its size, its share of revenue so far, how likely its customers are to stop "
        "buying, and what they are expected to spend next.",
    )
    source = _source(conn, "segment_profiles", SEGMENT_PROFILE_COLUMNS)
    if source.missing:
        section.empty = _not_built("segment_profiles", "segment profiles")
        return section
    if source.rows == 0:
        section.empty = "No segments yet: no customer has been scored by the segmentation model."
        return section
    frame = conn.execute(
        f"select * from {_target('segment_profiles')} "
        "order by segment_type, customers desc, segment"
    ).df()
    extra = [c for c in frame.columns if c not in SEGMENT_PROFILE_COLUMNS]
    # The segment's main audience and its action read best as one "what to do" cell.
    action = [c for c in ("main_audience", "main_audience_share", "suggested_action") if c in extra]
    if "suggested_action" in action:
        extra = [c for c in extra if c not in action]
    behavioural = frame[frame["segment_type"] == "behavioural"]
    main = behavioural if len(behavioural) else frame[frame["segment_type"] == frame.iloc[0, 0]]

    if len(main):
        biggest = main.iloc[0]
        richest = main.sort_values("revenue_share", ascending=False).iloc[0]
        section.sentences.append(
            f"The largest segment is {biggest['segment']} ({fmt.percent(biggest['customer_share'])}"
            f" of customers); {richest['segment']} bring the most revenue "
            f"({fmt.percent(richest['revenue_share'])} of it with "
            f"{fmt.percent(richest['customer_share'])} of customers)."
        )
        section.charts.append(_segment_chart(main, charts))
    for segment_type, group in frame.groupby("segment_type", sort=True):
        headers = ["Segment", "Customers", "Share of customers", "Revenue", "Share of revenue"]
        headers += ["Mean churn risk", "Mean expected revenue", "Top categories"]
        headers += ["What to do"] if "suggested_action" in action else []
        headers += [_humanize(c) for c in extra]
        rows = [
            [
                fmt.text(r["segment"]),
                fmt.count(r["customers"]),
                fmt.percent(r["customer_share"]),
                fmt.money(r["revenue"]),
                fmt.percent(r["revenue_share"]),
                fmt.percent(r["mean_churn_probability"], 0),
                fmt.money(r["mean_expected_revenue"]),
                fmt.text(r["top_categories"]),
                *([_action_cell(fmt, r)] if "suggested_action" in action else []),
                *(_extra_cell(fmt, c, r[c]) for c in extra),
            ]
            for _, r in group.iterrows()
        ]
        numeric = [False, True, True, True, True, True, True, False]
        numeric += [False] * (len(headers) - len(numeric))
        caption = {
            "behavioural": "Behavioural segments",
            "rfm": "RFM segments (recency, frequency, monetary value)",
        }.get(str(segment_type), f"{segment_type} segments")
        section.tables.append(HtmlTable(headers, rows, numeric, caption))
    if not extra:
        section.note = (
            "Each segment's main audience and suggested action will show here once the "
            "segment profiles carry them."
        )
    return section


def _action_cell(fmt: Formats, row: pd.Series) -> str | tuple[str, str]:
    """The suggested action, with the segment's main audience (and its share) below it."""
    action = fmt.text(row["suggested_action"])
    audience = row.get("main_audience")
    if audience is None or pd.isna(audience):
        return action
    share = row.get("main_audience_share")
    detail = f"main audience: {audience}"
    if share is not None and pd.notna(share):
        detail += f" ({fmt.percent(share, 0)} of the segment)"
    return (action, detail)


def _extra_cell(fmt: Formats, column: str, value: object) -> str:
    """A column the contract does not name (e.g. the segment's main audience): shares as
    percentages, numbers with separators, anything else as text."""
    if column.endswith(("_share", "_rate")) and isinstance(value, float | int):
        return fmt.percent(value, 0)
    if isinstance(value, float) and not pd.isna(value):
        return fmt.number(value)
    return fmt.text(value)


def _segment_chart(frame: pd.DataFrame, charts: _Charts) -> Markup:
    frame = frame.sort_values("customer_share")
    y = np.arange(len(frame))
    with plt.rc_context(_CHART_STYLE):
        fig, (ax, risk) = plt.subplots(
            1,
            2,
            figsize=(9, 0.42 * len(frame) + 1.3),
            sharey=True,
            gridspec_kw={"width_ratios": [3, 1.3]},
        )
        ax.barh(y + 0.2, frame["customer_share"] * 100, 0.4, color=BLUE, label="customers")
        ax.barh(y - 0.2, frame["revenue_share"] * 100, 0.4, color=ORANGE, label="revenue")
        ax.set_yticks(y, frame["segment"])
        ax.set_xlabel("share (%)")
        ax.set_title("Share of customers and of revenue")
        ax.legend(loc="lower right", bbox_to_anchor=(1, 1.06), ncol=2, fontsize=9)
        ax.grid(axis="y", visible=False)
        risk.barh(y, frame["mean_churn_probability"].fillna(0) * 100, 0.6, color=RED)
        risk.set_xlabel("mean churn risk (%)")
        risk.set_title("Churn risk")
        risk.set_xlim(0, 100)
        risk.grid(axis="y", visible=False)
        fig.tight_layout()
        return charts.svg(fig, "Share of customers and revenue, and churn risk, per segment")


def audiences_section(conn: duckdb.DuckDBPyConnection, fmt: Formats, charts: _Charts) -> Section:
    section = Section(
        "audiences",
        "Audiences",
        "Audiences are lists of customers to contact with one action each. A random control "
        "group in every audience is not contacted, so the campaign's effect can be measured "
        "against it (see Campaign results).",
    )
    source = _source(conn, "audiences", AUDIENCE_COLUMNS)
    if source.missing:
        section.empty = _not_built("audiences", "audiences")
        return section
    if source.rows == 0:
        section.empty = "No audiences: no customer currently qualifies for any audience."
        return section
    target = _target("audiences")
    summary = conn.execute(
        f"""
        select
            audience,
            count(*) as customers,
            count(*) filter (where in_control_group) as control,
            mode(suggested_action) as suggested_action,
            min(priority) as priority
        from {target}
        group by audience
        order by priority nulls last, customers desc, audience
        """
    ).df()
    examples = conn.execute(
        f"""
        select audience, customer_id, reason, in_control_group
        from {target}
        qualify row_number() over (
            partition by audience order by priority nulls last, customer_id
        ) <= {AUDIENCE_EXAMPLES}
        order by audience, priority nulls last, customer_id
        """
    ).df()
    total = int(summary["customers"].sum())
    section.facts = [
        ("Audiences", fmt.count(len(summary))),
        ("Customers in audiences (with repeats)", fmt.count(total)),
        ("Held out as control", fmt.count(summary["control"].sum())),
    ]
    section.charts.append(_audience_chart(summary, charts))
    section.tables.append(
        HtmlTable(
            ["Audience", "Customers", "To contact", "Control group", "Suggested action"],
            [
                [
                    fmt.text(r["audience"]),
                    fmt.count(r["customers"]),
                    fmt.count(r["customers"] - r["control"]),
                    f"{fmt.count(r['control'])} ({fmt.percent(r['control'] / r['customers'], 0)})",
                    fmt.text(r["suggested_action"]),
                ]
                for _, r in summary.iterrows()
            ],
            [False, True, True, True, False],
            "Size of each audience and what to do with it",
        )
    )
    section.tables.append(
        HtmlTable(
            ["Audience", "Customer id", "Why this customer", "Control group"],
            [
                [
                    fmt.text(r["audience"]),
                    fmt.text(r["customer_id"]),
                    fmt.text(r["reason"]),
                    fmt.text(bool(r["in_control_group"])),
                ]
                for _, r in examples.iterrows()
            ],
            [False, False, False, False],
            f"A few example members of each audience (up to {AUDIENCE_EXAMPLES})",
        )
    )
    return section


def _audience_chart(summary: pd.DataFrame, charts: _Charts) -> Markup:
    frame = summary.iloc[::-1]
    y = np.arange(len(frame))
    contacted = (frame["customers"] - frame["control"]).to_numpy()
    control = frame["control"].to_numpy()
    with plt.rc_context(_CHART_STYLE):
        fig, ax = _figure(8, 0.45 * len(frame) + 1.2)
        ax.barh(y, contacted, 0.6, color=BLUE, label="to contact")
        ax.barh(y, control, 0.6, left=contacted, color=GREY, label="control group")
        for yy, total in zip(y, contacted + control, strict=True):
            ax.text(total, yy, f" {int(total):,}", va="center", fontsize=9)
        ax.set_yticks(y, frame["audience"])
        ax.set_xlabel("customers")
        ax.set_title("Customers per audience")
        ax.legend(loc="lower right", bbox_to_anchor=(1, 1.0), ncol=2, fontsize=9)
        ax.xaxis.set_major_formatter(_thousands)
        ax.grid(axis="y", visible=False)
        ax.margins(x=0.12)
        fig.tight_layout()
        return charts.svg(fig, "Customers per audience, with the control group")


def retention_section(conn: duckdb.DuckDBPyConnection, fmt: Formats, charts: _Charts) -> Section:
    section = Section(
        "retention",
        "Retention list",
        "Customers to win back first, ranked by value at risk: the chance they stop buying "
        "times what they would otherwise spend. The list's head is below, with the reason the "
        "model sees and the offer to make.",
    )
    source = _source(conn, "retention_list", RETENTION_LIST_COLUMNS)
    if source.missing:
        section.empty = _not_built("retention_list", "customers at risk")
        return section
    if source.rows == 0:
        section.empty = "The retention list is empty: no scored customer is at risk."
        return section
    top = conn.execute(
        f"select * from {_target('retention_list')} order by rank limit {TOP_RETENTION_ROWS}"
    ).df()
    section.facts = [("Customers on the list", fmt.count(source.rows))]
    coverage = _coverage(conn)
    if coverage is None:
        section.sentences.append(
            "The list's coverage of value at risk is not available yet "
            f"({SCORES_SCHEMA}.retention_list_coverage is missing or empty)."
        )
    else:
        ratio = coverage["ratio"]
        section.facts += [
            ("Value at risk covered", fmt.money(coverage["covered"])),
            ("Share of all value at risk", fmt.percent(_share(coverage["covered"], coverage))),
        ]
        section.sentences.append(
            f"The {fmt.count(coverage['list_size'])} customers on the list hold "
            f"{fmt.money(coverage['covered'])} of value at risk "
            f"({fmt.percent(_share(coverage['covered'], coverage))} of the "
            f"{fmt.money(coverage['total'])} at risk across all customers). The same number of "
            f"customers picked by churn probability alone would cover "
            f"{fmt.money(coverage['by_churn'])}"
            + (f": the list covers {fmt.number(ratio, 2)}× as much." if ratio else ".")
        )
        section.charts.append(_coverage_chart(coverage, fmt, charts))
    section.tables.append(
        HtmlTable(
            [
                "Rank",
                "Customer id",
                "Churn risk",
                "Expected revenue",
                "Value at risk",
                "Why at risk",
                "Suggested offer",
                "Risk tier",
                "Segment",
                "Control group",
            ],
            [
                [
                    fmt.count(r["rank"]),
                    fmt.text(r["customer_id"]),
                    fmt.percent(r["churn_probability"], 0),
                    fmt.money(r["expected_revenue"]),
                    fmt.money(r["value_at_risk"]),
                    fmt.text(r["churn_reason"]),
                    fmt.text(r["suggested_offer"]),
                    fmt.text(r["risk_tier"]),
                    fmt.text(r["segment"]),
                    fmt.text(bool(r["in_control_group"])),
                ]
                for _, r in top.iterrows()
            ],
            [True, False, True, True, True, False, False, False, False, False],
            f"The top {min(TOP_RETENTION_ROWS, source.rows)} of {fmt.count(source.rows)}",
        )
    )
    section.note = (
        "Customers marked as control group stay off the campaign, so that its effect can be "
        "measured."
    )
    return section


def _share(value: float, coverage: dict[str, float]) -> float | None:
    total = coverage["total"]
    return None if not total else float(value) / float(total)


def _coverage(conn: duckdb.DuckDBPyConnection) -> dict[str, float] | None:
    """retention_list_coverage's one row, or None when the table is missing or empty."""
    source = _source(conn, "retention_list_coverage", COVERAGE_COLUMNS)
    if source.missing or source.rows == 0:
        return None
    row = conn.execute(
        f"select {', '.join(map(identifier, COVERAGE_COLUMNS))} "
        f"from {_target('retention_list_coverage')} limit 1"
    ).fetchone()
    values = [float(v) if v is not None else None for v in row]
    size, covered, by_churn, ratio, total = values
    return {
        "list_size": size or 0.0,
        "covered": covered or 0.0,
        "by_churn": by_churn or 0.0,
        "ratio": ratio,
        "total": total or 0.0,
    }


def _coverage_chart(coverage: dict[str, float], fmt: Formats, charts: _Charts) -> Markup:
    labels = ["retention list\n(by value at risk)", "same number by\nchurn risk alone"]
    values = [coverage["covered"], coverage["by_churn"]]
    with plt.rc_context(_CHART_STYLE):
        fig, ax = _figure(6.5, 2.2)
        y = np.arange(2)[::-1]
        ax.barh(y, values, 0.55, color=[BLUE, GREY])
        for yy, value in zip(y, values, strict=True):
            ax.text(value, yy, f" {fmt.money(value)}", va="center", fontsize=9)
        if coverage["total"]:
            ax.axvline(coverage["total"], color=RED, linestyle=":", linewidth=1.2)
            ax.text(
                coverage["total"],
                1.45,
                f"all value at risk {fmt.money(coverage['total'])}",
                ha="right",
                va="bottom",
                fontsize=8.5,
                color=RED,
            )
        ax.set_yticks(y, labels)
        ax.set_ylim(-0.6, 1.8)
        ax.set_xlabel(f"value at risk covered ({fmt.currency})")
        ax.xaxis.set_major_formatter(_compact)
        ax.set_title(f"Value at risk covered by {fmt.count(coverage['list_size'])} customers")
        ax.grid(axis="y", visible=False)
        ax.margins(x=0.18)
        fig.tight_layout()
        return charts.svg(fig, "Value at risk covered by the retention list")


def value_section(conn: duckdb.DuckDBPyConnection, fmt: Formats, charts: _Charts) -> Section:
    section = Section(
        "value",
        "Customer value",
        "What each customer is expected to spend over the model's horizon (predicted lifetime "
        "value). A few customers usually hold much of the value: they deserve the most care.",
    )
    source = _source(conn, "customer_value", CUSTOMER_VALUE_COLUMNS)
    if source.missing:
        section.empty = _not_built("customer_value", "predicted customer values")
        return section
    if source.rows == 0:
        section.empty = (
            "No predicted customer values: the customer value model was skipped or has not "
            "run yet (its reason is in the Dagster UI, asset models/customer_value)."
        )
        return section
    values = (
        conn.execute(
            f"select coalesce(expected_revenue, 0) from {_target('customer_value')} order by 1 desc"
        )
        .df()
        .iloc[:, 0]
        .to_numpy(dtype=float)
    )
    horizon = None
    if "horizon_days" in source.columns:
        horizon = conn.execute(
            f"select max(horizon_days) from {_target('customer_value')}"
        ).fetchone()[0]
    total = float(values.sum())
    top_n = max(1, int(np.ceil(len(values) * VALUE_TOP_SHARE)))
    top_share = float(values[:top_n].sum()) / total if total > 0 else None
    zero = int((values <= 0).sum())
    period = f" over the next {horizon:,} days" if horizon else ""
    section.facts = [
        (f"Expected revenue{period}", fmt.money(total)),
        ("Held by the top 10 % of customers", fmt.percent(top_share)),
        ("Median per customer", fmt.money(float(np.median(values)))),
    ]
    section.sentences.append(
        f"{fmt.count(len(values))} customers are expected to spend {fmt.money(total)}{period}; "
        f"the top 10 % ({fmt.count(top_n)} customers) hold {fmt.percent(top_share)} of it."
    )
    positive = values[values >= 1]  # below one currency unit, a log axis would stretch to 0.0001
    below = len(values) - len(positive)
    if len(positive):
        section.charts.append(_value_chart(positive, fmt, charts))
        section.note = (
            "The histogram's horizontal axis is on a log scale (each step is ten times the "
            "previous), so small and large values both show."
            + (
                f" {fmt.count(below)} customers expected to spend less than "
                f"{fmt.money(1, 0)}"
                + (f" ({fmt.count(zero)} of them nothing)" if zero else "")
                + " are not drawn."
                if below
                else ""
            )
        )
    return section


def _value_chart(values: np.ndarray, fmt: Formats, charts: _Charts) -> Markup:
    low, high = float(values.min()), float(values.max())
    bins = np.geomspace(low, high * 1.0001, 40) if high > low else 10
    top_cut = float(np.quantile(values, 1 - VALUE_TOP_SHARE))
    with plt.rc_context(_CHART_STYLE):
        fig, ax = _figure(8, 3.2)
        ax.hist(values, bins=bins, color=BLUE, edgecolor="white", linewidth=0.5)
        if high > low:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.money(v, 0)))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.axvline(top_cut, color=ORANGE, linestyle="--", linewidth=1.2)
        ax.text(
            top_cut,
            ax.get_ylim()[1] * 0.95,
            f" top 10 % from {fmt.money(top_cut)}",
            color=ORANGE,
            va="top",
            fontsize=9,
        )
        ax.set_xlabel(f"expected revenue per customer ({fmt.currency}, log scale)")
        ax.set_ylabel("customers")
        ax.set_title("How expected revenue is spread across customers")
        ax.grid(axis="x", visible=False)
        fig.tight_layout()
        return charts.svg(fig, "Histogram of expected revenue per customer, log scale")


def recommendations_section(
    conn: duckdb.DuckDBPyConnection, fmt: Formats, charts: _Charts
) -> Section:
    section = Section(
        "recommendations",
        "Product recommendations",
        f"The products the recommender would show each customer, best first. Here are "
        f"{RECOMMENDATION_CUSTOMERS} customers with their top {RECOMMENDATIONS_PER_CUSTOMER}, "
        "to check that the suggestions make sense.",
    )
    source = _source(conn, "recommended_products", RECOMMENDED_PRODUCT_COLUMNS)
    if source.missing:
        section.empty = _not_built("recommended_products", "recommendations")
        return section
    if source.rows == 0:
        section.empty = (
            "No recommendations: the recommender was skipped or has not run yet (its reason is "
            "in the Dagster UI, asset models/recommender)."
        )
        return section
    target = _target("recommended_products")
    # A fixed, spread-out sample of customers (by a hash of their id), so the same customers
    # show from one refresh to the next.
    rows = conn.execute(
        f"""
        with customers as (
            select customer_id
            from {target}
            group by customer_id
            having count(*) >= least({RECOMMENDATIONS_PER_CUSTOMER}, max(rank))
            order by md5(cast(customer_id as varchar))
            limit {RECOMMENDATION_CUSTOMERS}
        )
        select r.*
        from {target} as r
        inner join customers using (customer_id)
        where r.rank <= {RECOMMENDATIONS_PER_CUSTOMER}
        order by md5(cast(r.customer_id as varchar)), r.rank
        """
    ).df()
    customers = conn.execute(f"select count(distinct customer_id) from {target}").fetchone()[0]
    models = ", ".join(sorted(rows["model"].dropna().astype(str).unique())) or "–"
    section.facts = [
        ("Customers with recommendations", fmt.count(customers)),
        ("Model", models),
    ]
    for customer_id, group in rows.groupby("customer_id", sort=False):
        section.tables.append(
            HtmlTable(
                ["#", "Product", "Category", "Price", "Rating", "Reviews"],
                [
                    [
                        fmt.count(r["rank"]),
                        fmt.text(r["product_name"])
                        if pd.notna(r["product_name"])
                        else f"product {r['product_id']}",
                        fmt.text(r["category"]),
                        fmt.money(r["price"]),
                        f"{fmt.number(r['mean_rating'], 1)} ★"
                        if pd.notna(r["mean_rating"])
                        else "–",
                        fmt.count(r["review_count"]) if pd.notna(r["review_count"]) else "–",
                    ]
                    for _, r in group.iterrows()
                ],
                [True, False, False, True, True, True],
                f"Customer {customer_id}",
            )
        )
    return section


def campaigns_section(conn: duckdb.DuckDBPyConnection, fmt: Formats, charts: _Charts) -> Section:
    section = Section(
        "campaigns",
        "Campaign results",
        "For each past campaign: did the customers who received it buy more than the control "
        "group who did not? The uplift is the difference; its range is the 95 % confidence "
        "interval. A range that crosses zero means the campaign's effect is not proven.",
    )
    source = _source(conn, "campaign_results", CAMPAIGN_RESULT_COLUMNS)
    if source.missing:
        section.empty = _not_built("campaign_results", "campaign results")
        return section
    if source.rows == 0:
        section.empty = (
            "No campaign log configured: add a campaign_sends source (who was sent which "
            "campaign, and who was held out) to the config to measure campaigns."
        )
        return section
    frame = conn.execute(
        f"select * from {_target('campaign_results')} order by campaign_id, audience"
    ).df()
    significant = int(frame["significant"].fillna(False).astype(bool).sum())
    section.facts = [
        ("Campaigns measured", fmt.count(len(frame))),
        ("With a proven effect", fmt.count(significant)),
    ]
    incomplete = int((~frame["outcome_complete"].fillna(False).astype(bool)).sum())
    if incomplete:
        section.sentences.append(
            f"{incomplete} campaign(s) are still inside their outcome window: their numbers "
            "will change."
        )
    section.charts.append(_campaign_chart(frame, fmt, charts))
    section.tables.append(
        HtmlTable(
            [
                "Campaign",
                "Audience",
                "Sent / control",
                "Conversion sent",
                "Conversion control",
                "Conversion uplift (95 % CI)",
                "Revenue uplift per customer (95 % CI)",
                "Conversion uplift proven",
                "Window",
            ],
            [
                [
                    fmt.text(r["campaign_id"]),
                    fmt.text(r["audience"]),
                    f"{fmt.count(r['treated_customers'])} / {fmt.count(r['control_customers'])}",
                    fmt.percent(r["treated_conversion_rate"]),
                    fmt.percent(r["control_conversion_rate"]),
                    (
                        fmt.points(r["conversion_uplift"]),
                        f"{fmt.points(r['conversion_uplift_ci_low'])} to "
                        f"{fmt.points(r['conversion_uplift_ci_high'])}",
                    ),
                    (
                        fmt.money(r["revenue_uplift_per_customer"]),
                        f"{fmt.money(r['revenue_uplift_ci_low'])} to "
                        f"{fmt.money(r['revenue_uplift_ci_high'])}",
                    ),
                    fmt.text(bool(r["significant"])) if pd.notna(r["significant"]) else "–",
                    f"{fmt.count(r['window_days'])} days"
                    + ("" if bool(r["outcome_complete"]) else " (still open)"),
                ]
                for _, r in frame.iterrows()
            ],
            [False, False, True, True, True, True, True, False, False],
            "Every campaign in the log",
        )
    )
    return section


def _campaign_chart(frame: pd.DataFrame, fmt: Formats, charts: _Charts) -> Markup:
    frame = frame.iloc[::-1]
    labels = [f"{c}\n({a})" for c, a in zip(frame["campaign_id"], frame["audience"], strict=True)]
    y = np.arange(len(frame))
    with plt.rc_context(_CHART_STYLE):
        fig, (conv, rev) = plt.subplots(1, 2, figsize=(10, 0.55 * len(frame) + 1.5), sharey=True)
        for ax, column, scale, title, xlabel in (
            (conv, "conversion_uplift", 100, "Conversion uplift", "percentage points"),
            (rev, "revenue_uplift_per_customer", 1, "Revenue uplift per customer", fmt.currency),
        ):
            centre = frame[column].to_numpy(dtype=float) * scale
            low = frame[f"{column.removesuffix('_per_customer')}_ci_low"].to_numpy(float) * scale
            high = frame[f"{column.removesuffix('_per_customer')}_ci_high"].to_numpy(float) * scale
            errors = np.vstack([np.clip(centre - low, 0, None), np.clip(high - centre, 0, None)])
            proven = (low > 0) | (high < 0)  # the 95 % interval excludes zero
            colors = [GREEN if p else GREY for p in proven]
            for yy, c, lo, hi, color in zip(y, centre, errors[0], errors[1], colors, strict=True):
                ax.errorbar(
                    c,
                    yy,
                    xerr=[[lo], [hi]],
                    fmt="o",
                    color=color,
                    ecolor=color,
                    elinewidth=2,
                    capsize=4,
                    markersize=6,
                )
            ax.axvline(0, color="#55606B", linewidth=1)
            ax.xaxis.set_major_formatter(_thousands)
            ax.set_title(title)
            ax.set_xlabel(xlabel)
            ax.grid(axis="y", visible=False)
        conv.set_yticks(y, labels)
        conv.set_ylim(-0.7, len(frame) - 0.3)
        fig.text(
            0.99,
            0.005,
            "green: effect proven (95 % CI above or below zero); grey: not proven",
            ha="right",
            va="bottom",
            fontsize=8.5,
            color="#55606B",
        )
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        return charts.svg(fig, "Uplift per campaign with its 95 % confidence interval")


SECTIONS: tuple[Callable[[duckdb.DuckDBPyConnection, Formats, _Charts], Section], ...] = (
    segments_section,
    audiences_section,
    retention_section,
    value_section,
    recommendations_section,
    campaigns_section,
)


# ---------------------------------------------------------------------------------------------
# The report


def _as_of(conn: duckdb.DuckDBPyConnection) -> str | None:
    for table in ("customer_value", "retention_list", "audiences"):
        columns = _existing_columns(conn, table)
        if columns and "as_of_date" in columns:
            value = conn.execute(f"select max(as_of_date) from {_target(table)}").fetchone()[0]
            if value is not None:
                return str(value)
    return None


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
