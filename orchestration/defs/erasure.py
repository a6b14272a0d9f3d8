"""The `erase_customer` job: erase one customer everywhere, from the UI or `make erase`.

Four steps, one after another (orchestration/lib/erasure.py does the work):
1. `erase_customer_data` (duckdb pool): the id goes on the erasure list (pseudonymized), the
   customer leaves raw, the quarantine and every other table (order facts kept with the customer
   id set to NULL), and the export files are rewritten.
2. `remove_model_versions`: model versions whose files hold the id are deleted (a PROMOTED
   pointer naming one is removed).
3. `retrain_without_customer`: when a version was removed, the `retrain_models` job runs for
   those models and everything downstream (its own run, tagged, visible in the UI): new versions
   trained without the customer, rescored, activation tables, exports and report rebuilt. When
   only the marketing report held the id, only the report is rendered again.
4. `verify_customer_erased` (duckdb pool): fails, naming each table column and file, if the id
   is still anywhere in the warehouse, the exports, the reports or the model files.

Logs, metadata and the steps' outputs (stored by Dagster's IO manager) carry the id's hash and a
masked id, never the id itself; the run's config holds what the user typed.
"""

from pathlib import Path

import dagster as dg
from pydantic import Field

from orchestration.instance import PID_TAG
from orchestration.lib import erasure
from orchestration.lib.model_assets import model_asset_key
from orchestration.lib.warehouse import WarehouseResource
from orchestration.settings import DUCKDB_POOL, RETRAIN_JOB, RETRAIN_TAG, get_settings

ERASE_JOB = "erase_customer"
ERASE_STEP = "erase_customer_data"
ERASED_BY_TAG = "shop_analytics/erasure"  # on the retraining run: the erased id's hash


class EraseConfig(dg.Config):
    customer_id: str = Field(
        description="The customer id to erase, as in the source files (raw.customers.customer_id)."
    )


@dg.op(
    name=ERASE_STEP,
    pool=DUCKDB_POOL,
    description="Record the id on the erasure list and remove the customer from every table and "
    "export file, in one transaction.",
)
def erase_customer_data(
    context: dg.OpExecutionContext, config: EraseConfig, duckdb: WarehouseResource
) -> erasure.ErasureReport:
    settings = get_settings()
    with duckdb.get_connection() as conn:
        report = erasure.erase_customer(
            conn,
            config.customer_id,
            settings.pii_salt,
            settings.export_dir,
            settings.model_dir,
            settings.report_dir,
        )
    shown = erasure.masked_id(config.customer_id)
    if not report.found:
        context.log.warning(
            f"Customer {shown} (hash {report.customer_hash[:12]}): no row in the warehouse. The "
            "id is on the erasure list anyway, so a later delivery does not load it."
        )
    context.log.info(
        f"Erased customer {shown} (hash {report.customer_hash[:12]}): "
        + "; ".join(
            line.strip()
            for line in report.lines()
            if not line.strip().startswith(("model", "report", "rewritten"))
        )
    )
    context.add_output_metadata(
        {
            "customer_hash": report.customer_hash,
            "customer": shown,
            "already_on_erasure_list": not report.newly_recorded,
            "found": report.found,
            "raw_rows": dg.MetadataValue.json(report.raw),
            "deleted_rows": dg.MetadataValue.json(report.deleted),
            "anonymized_rows": dg.MetadataValue.json(report.anonymized),
            "exports_rewritten": dg.MetadataValue.json(report.exports),
            "model_versions_holding_id": dg.MetadataValue.json(report.model_versions),
            "reports_holding_id": dg.MetadataValue.json(report.reports),
        }
    )
    return report


@dg.op(description="Delete the model versions whose files hold the erased id.")
def remove_model_versions(
    context: dg.OpExecutionContext, report: erasure.ErasureReport
) -> list[str]:
    models = erasure.remove_model_versions([Path(p) for p in report.model_versions])
    for path in report.model_versions:
        context.log.info(f"Deleted model version {path} (its file held the erased id)")
    context.add_output_metadata(
        {"deleted_versions": dg.MetadataValue.json(report.model_versions), "models": models}
    )
    return models


@dg.op(
    description="Retrain (the retrain_models job) the models that lost a version, and rebuild "
    "what is downstream of them, or only the marketing report when it alone held the id."
)
def retrain_without_customer(
    context: dg.OpExecutionContext, report: erasure.ErasureReport, models: list[str]
) -> bool:
    from orchestration.definitions import defs
    from orchestration.defs.report import marketing_report

    definitions = defs()
    # The models that lost a version and everything downstream of them (scored tables,
    # activation tables, exports, report): the retrain_models job's assets, fewer of them.
    graph = definitions.resolve_asset_graph()
    selection = dg.AssetSelection.assets(*(model_asset_key(name) for name in models))
    keys = set(selection.downstream().resolve(graph)) if models else set()
    if report.reports:
        keys.add(marketing_report.key)  # rendered from the cleaned tables
    # Whole multi-assets: the dbt activation step builds all its models or none.
    keys = {key for assets in graph.assets_defs_for_keys(keys) for key in assets.keys}
    if not keys:
        context.log.info("No model file or report held the id: nothing to rebuild")
        return False
    job = definitions.resolve_job_def(RETRAIN_JOB).get_subset(asset_selection=keys)
    tags = {RETRAIN_TAG: "true", ERASED_BY_TAG: report.customer_hash[:12]}
    if PID_TAG in context.run.tags:
        tags[PID_TAG] = context.run.tags[PID_TAG]
    context.log.info(
        f"Rebuilding {len(keys)} asset(s) without the customer ({RETRAIN_JOB}"
        + (f", retraining {', '.join(models)}" if models else ", the report only")
        + ")"
    )
    # Its own run on the same instance: its steps claim the duckdb pool like any other.
    result = job.execute_in_process(instance=context.instance, tags=tags, raise_on_error=False)
    context.add_output_metadata({"retrain_run_id": result.run_id, "success": result.success})
    if not result.success:
        raise dg.Failure(
            f"The {RETRAIN_JOB} run {result.run_id} failed: the deleted model versions or the "
            "report were not rebuilt. Open that run, fix the cause, then launch the "
            f"{RETRAIN_JOB} job."
        )
    return True


@dg.op(
    pool=DUCKDB_POOL,
    description="Fail if the id is still in any table, export, report or model file.",
)
def verify_customer_erased(
    context: dg.OpExecutionContext, duckdb: WarehouseResource, retrained: bool
) -> None:
    # The id as typed for the first step (one config for the job; never written to an output).
    config = EraseConfig(**context.run_config["ops"][ERASE_STEP]["config"])
    settings = get_settings()
    folders = [settings.export_dir, settings.model_dir, settings.report_dir]
    with duckdb.get_connection() as conn:
        left = erasure.verify_erasure(conn, config.customer_id, folders)
    if left:
        raise dg.Failure(
            f"Customer {erasure.masked_id(config.customer_id)} is still in: "
            + "; ".join(
                f"{where} ({what} rows)" if isinstance(what, int) else where
                for where, what in left.items()
            ),
            metadata={"left": dg.MetadataValue.json({k: str(v) for k, v in left.items()})},
        )
    context.log.info(
        f"No trace of customer {erasure.masked_id(config.customer_id)} left in the warehouse, "
        f"{', '.join(str(f) for f in folders)}" + (" (after retraining)" if retrained else "")
    )


@dg.job(
    name=ERASE_JOB,
    description=(
        "Erase one customer (config: customer_id) from every table, the quarantine, the exports "
        "and the model files, and put the id, pseudonymized, on the erasure list every later "
        "load applies. `make erase CUSTOMER=<id>` runs the same job."
    ),
    tags={"shop_analytics/kind": "erasure"},
)
def erase_customer_job() -> None:
    report = erase_customer_data()
    verify_customer_erased(retrain_without_customer(report, remove_model_versions(report)))
