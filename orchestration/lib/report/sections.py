"""The report's sections, one function each: read a table, and say plainly when it is
missing or empty."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
from markupsafe import Markup

from landing.sql import identifier
from orchestration.lib.report.charts import (
    _audience_chart,
    _campaign_chart,
    _Charts,
    _coverage_chart,
    _segment_chart,
    _value_chart,
)
from orchestration.lib.report.formats import Formats, HtmlTable, _humanize
from orchestration.lib.report.tables import (
    AUDIENCE_COLUMNS,
    CAMPAIGN_RESULT_COLUMNS,
    COVERAGE_COLUMNS,
    CUSTOMER_VALUE_COLUMNS,
    RECOMMENDED_PRODUCT_COLUMNS,
    RETENTION_LIST_COLUMNS,
    SEGMENT_PROFILE_COLUMNS,
    _not_built,
    _Source,
    _source,
    scores_relation,
)
from orchestration.settings import SCORES_SCHEMA

TOP_RETENTION_ROWS = 20
AUDIENCE_EXAMPLES = 3
RECOMMENDATION_CUSTOMERS = 3
RECOMMENDATIONS_PER_CUSTOMER = 5
VALUE_TOP_SHARE = 0.10


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

    def read(
        self,
        conn: duckdb.DuckDBPyConnection,
        table: str,
        required: Sequence[str],
        what: str,
        when_empty: str,
    ) -> _Source | None:
        """The section's table, or None after saying why the section is empty: the table does
        not exist yet (there are no `what` to show) or has no rows (`when_empty`)."""
        source = _source(conn, table, required)
        if source.missing:
            self.empty = _not_built(table, what)
        elif source.rows == 0:
            self.empty = when_empty
        return None if self.empty else source


def segments_section(conn: duckdb.DuckDBPyConnection, fmt: Formats, charts: _Charts) -> Section:
    section = Section(
        "segments",
        "Customer segments",
        "Every customer belongs to one behavioural segment (groups of customers who buy alike) "
        "and one RFM segment (how recently, how often and how much they bought). For each "
        "segment: its size, its share of revenue so far, how likely its customers are to stop "
        "buying, and what they are expected to spend next.",
    )
    source = section.read(
        conn,
        "segment_profiles",
        SEGMENT_PROFILE_COLUMNS,
        "segment profiles",
        "No segments yet: no customer has been scored by the segmentation model.",
    )
    if source is None:
        return section
    frame = conn.execute(
        f"select * from {scores_relation('segment_profiles')} "
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


def audiences_section(conn: duckdb.DuckDBPyConnection, fmt: Formats, charts: _Charts) -> Section:
    section = Section(
        "audiences",
        "Audiences",
        "Audiences are lists of customers to contact with one action each. A random control "
        "group in every audience is not contacted, so the campaign's effect can be measured "
        "against it (see Campaign results).",
    )
    source = section.read(
        conn,
        "audiences",
        AUDIENCE_COLUMNS,
        "audiences",
        "No audiences: no customer currently qualifies for any audience.",
    )
    if source is None:
        return section
    target = scores_relation("audiences")
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


def retention_section(conn: duckdb.DuckDBPyConnection, fmt: Formats, charts: _Charts) -> Section:
    section = Section(
        "retention",
        "Retention list",
        "Customers to win back first, ranked by value at risk: the chance they stop buying "
        "times what they would otherwise spend. The list's head is below, with the reason the "
        "model sees and the offer to make.",
    )
    source = section.read(
        conn,
        "retention_list",
        RETENTION_LIST_COLUMNS,
        "customers at risk",
        "The retention list is empty: no scored customer is at risk.",
    )
    if source is None:
        return section
    top = conn.execute(
        f"select * from {scores_relation('retention_list')} order by rank limit {TOP_RETENTION_ROWS}"
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
        f"from {scores_relation('retention_list_coverage')} limit 1"
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


def value_section(conn: duckdb.DuckDBPyConnection, fmt: Formats, charts: _Charts) -> Section:
    section = Section(
        "value",
        "Customer value",
        "What each customer is expected to spend over the model's horizon (predicted lifetime "
        "value). A few customers usually hold much of the value: they deserve the most care.",
    )
    source = section.read(
        conn,
        "customer_value",
        CUSTOMER_VALUE_COLUMNS,
        "predicted customer values",
        (
            "No predicted customer values: the customer value model was skipped or has not "
            "run yet (its reason is in the Dagster UI, asset models/customer_value)."
        ),
    )
    if source is None:
        return section
    values = (
        conn.execute(
            f"select coalesce(expected_revenue, 0) from {scores_relation('customer_value')} order by 1 desc"
        )
        .df()
        .iloc[:, 0]
        .to_numpy(dtype=float)
    )
    horizon = None
    if "horizon_days" in source.columns:
        horizon = conn.execute(
            f"select max(horizon_days) from {scores_relation('customer_value')}"
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
        section.charts.append(_value_chart(positive, VALUE_TOP_SHARE, fmt, charts))
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
    source = section.read(
        conn,
        "recommended_products",
        RECOMMENDED_PRODUCT_COLUMNS,
        "recommendations",
        (
            "No recommendations: the recommender was skipped or has not run yet (its reason is "
            "in the Dagster UI, asset models/recommender)."
        ),
    )
    if source is None:
        return section
    target = scores_relation("recommended_products")
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
    source = section.read(
        conn,
        "campaign_results",
        CAMPAIGN_RESULT_COLUMNS,
        "campaign results",
        (
            "No campaign log configured: add a campaign_sends source (who was sent which "
            "campaign, and who was held out) to the config to measure campaigns."
        ),
    )
    if source is None:
        return section
    frame = conn.execute(
        f"select * from {scores_relation('campaign_results')} order by campaign_id, audience"
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


SECTIONS: tuple[Callable[[duckdb.DuckDBPyConnection, Formats, _Charts], Section], ...] = (
    segments_section,
    audiences_section,
    retention_section,
    value_section,
    recommendations_section,
    campaigns_section,
)
