"""The marketing report: one self-contained HTML page (reports/marketing_report.html beside the
warehouse) with the segments, audiences, retention list, customer value, recommendations and
campaign results, for marketers to open offline in a browser."""

import dagster as dg

from orchestration.lib.report import REPORT_TABLES, build_report, write_report
from orchestration.lib.warehouse import WarehouseResource
from orchestration.settings import DUCKDB_POOL, SCORES_SCHEMA, get_settings


@dg.asset(
    key=[SCORES_SCHEMA, "marketing_report"],
    group_name=SCORES_SCHEMA,
    deps=[dg.AssetKey([SCORES_SCHEMA, table]) for table in REPORT_TABLES],
    pool=DUCKDB_POOL,
    kinds={"html"},
    description=(
        "reports/marketing_report.html beside the warehouse: one self-contained page (charts "
        "inline, nothing fetched) with segments, audiences, the retention list, customer value, "
        "recommendation examples and campaign results. A section whose table is missing or "
        "empty says so."
    ),
)
def marketing_report(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    path = get_settings().marketing_report
    with duckdb.get_connection() as conn:
        report = build_report(conn)
    write_report(conn, path, report)
    for section in report.sections:
        if not section.rendered:
            context.log.info(f"Section {section.title!r} is empty: {section.empty}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "size_bytes": dg.MetadataValue.int(path.stat().st_size),
            "sections_rendered": dg.MetadataValue.json(report.rendered),
            "sections_empty": dg.MetadataValue.json(
                {s.key: s.empty for s in report.sections if not s.rendered}
            ),
        }
    )
