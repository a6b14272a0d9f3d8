"""`make erase CUSTOMER=<id>` removes a customer everywhere, and a reload does not bring them back.

On a copy of the session's shop (its warehouse, models, exports and reports, after the session's
pipeline run), a customer with orders, reviews, web events and campaign sends is erased through
the CLI (the `erase_customer` Dagster job). Then no text column of any table in any schema, no
export file, report and no model file (as UTF-8 or UTF-32-LE bytes) holds their id or e-mail;
revenue in raw and in fct_orders is unchanged; the reconciliation holds; the model registry is
consistent. The raw layer is then reloaded through Dagster from the same landing files: the
customer stays out and raw.load_log counts their rows as erased. The scans here are written
independently of orchestration/lib/erasure.py, so a broken erasure fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from conftest import config_with_data_dir

from landing import reconcile
from landing.erasure import ERASURE_TABLE, erasure_hash
from ml.registry import PROMOTED, load_version, promoted_model
from orchestration.settings import REPO_ROOT, get_settings

# Whole pipeline runs or Dagster processes: `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow

SALT = "gallery-and-test-shops"  # the test shops' salt (orchestration/gallery.py)
# Copied from the session's data folder: everything the platform wrote (not the landing files,
# which stay shared and read-only, nor the session's Dagster instance).
COPIED = ("warehouse.duckdb", "warehouse.duckdb.wal", "models", "exports", "reports", "dbt_target")
SOURCES = ("order_lines", "customers", "web_events", "reviews", "campaign_sends")


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SHOP_CONFIG": str(config_with_data_dir(data_dir)),
        "DAGSTER_HOME": str(data_dir / "dagster"),
        "PII_SALT": SALT,
    }


def _token(value: str) -> str:
    return rf"(^|[^A-Za-z0-9_]){re.escape(value)}($|[^A-Za-z0-9_])"


def text_traces(conn: duckdb.DuckDBPyConnection, values: list[str]) -> dict[str, int]:
    """schema.table.column -> rows holding one of `values` as a whole token, over every text
    (VARCHAR or JSON) column of every base table in every schema."""
    columns = conn.execute(
        "select c.table_schema, c.table_name, c.column_name from information_schema.columns c "
        "join information_schema.tables t using (table_catalog, table_schema, table_name) "
        "where t.table_type = 'BASE TABLE' and c.data_type in ('VARCHAR', 'JSON') "
        "and c.table_schema not in ('information_schema', 'pg_catalog')"
    ).fetchall()
    assert len(columns) > 30, columns  # the scan reaches raw, dbt's tables and the scores
    found = {}
    for schema, table, column in columns:
        text = f'cast("{column}" as varchar)'
        for value in values:
            (rows,) = conn.execute(
                f'select count(*) from "{schema}"."{table}" where contains({text}, ?) '
                f"and regexp_matches({text}, ?)",
                [value, _token(value)],
            ).fetchone()
            if rows:
                found[f"{schema}.{table}.{column} ({value!r})"] = rows
    return found


def file_traces(folders: list[Path], values: list[str]) -> list[str]:
    """Files whose bytes hold one of `values` as UTF-8 or UTF-32-LE (numpy's string arrays)."""
    needles = [v.encode(enc) for v in values for enc in ("utf-8", "utf-32-le")]
    files = [p for folder in folders for p in folder.rglob("*") if p.is_file()]
    assert files, folders
    return [str(p) for p in files if any(n in p.read_bytes() for n in needles)]


def revenue(conn: duckdb.DuckDBPyConnection) -> dict[str, object]:
    raw = conn.execute(
        "select count(*), sum(coalesce(amount, quantity * unit_price - coalesce(discount, 0))) "
        "from raw.order_lines"
    ).fetchone()
    facts = conn.execute(
        "select count(*), sum(net_amount), sum(net_amount) filter (where is_revenue) "
        "from marts.fct_orders"
    ).fetchone()
    return {"raw order lines": raw, "fct_orders": facts}


def customer_rows(conn: duckdb.DuckDBPyConnection, customer_id: str) -> dict[str, int]:
    return {
        table: conn.execute(
            f"select count(*) from raw.{table} where customer_id = ?", [customer_id]
        ).fetchone()[0]
        for table in SOURCES
    }


@pytest.fixture(scope="module")
def shop(pipeline_run, tmp_path_factory) -> dict:
    """A copy of the session's shop, and the customer to erase with what is known of them."""
    assert pipeline_run.success
    source = get_settings().data_dir
    data_dir = tmp_path_factory.mktemp("erasure")
    for name in COPIED:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, data_dir / name)
        elif path.exists():
            shutil.copy2(path, data_dir / name)
    conn = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    # A customer in every source table and in the scores, preferring one a model file holds.
    candidates = conn.execute(
        """
        select c.customer_id, c.email, c.first_name, c.last_name from raw.customers c
        where exists (select 1 from raw.order_lines o where o.customer_id = c.customer_id)
          and exists (select 1 from raw.reviews r where r.customer_id = c.customer_id)
          and exists (select 1 from raw.web_events w where w.customer_id = c.customer_id)
          and exists (select 1 from raw.campaign_sends s where s.customer_id = c.customer_id)
          and exists (select 1 from scores.churn_scores s where s.customer_id = c.customer_id)
        order by c.customer_id limit 50
        """
    ).fetchall()
    assert candidates, "no customer with orders, reviews, web events and campaign sends"
    models = [p for p in (data_dir / "models").rglob("model.joblib")]
    held = [c for c in candidates if any(c[0].encode() in p.read_bytes() for p in models)]
    customer_id, email, first_name, last_name = (held or candidates)[0]
    before = {
        "revenue": revenue(conn),
        "rows": customer_rows(conn, customer_id),
        "same_name": conn.execute(
            "select count(*) from raw.customers where first_name = ? and last_name = ?",
            [first_name, last_name],
        ).fetchone()[0],
        "versions": sorted(str(p.parent) for p in models),
        "held_by_models": bool(held),
    }
    conn.close()
    assert text_traces_ok_before(data_dir, customer_id, email)
    return {
        "dir": data_dir,
        "id": customer_id,
        "email": email,
        "name": (first_name, last_name),
        "before": before,
    }


def text_traces_ok_before(data_dir: Path, customer_id: str, email: str) -> bool:
    """The scans find the customer before the erasure (else passing them would prove nothing)."""
    conn = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        found = text_traces(conn, [customer_id, email])
    finally:
        conn.close()
    assert any(key.startswith("raw.customers.email") for key in found), found
    assert any(key.startswith("marts.") for key in found), found
    assert any(key.startswith("scores.") for key in found), found
    assert file_traces([data_dir / "exports"], [customer_id]), "the exports hold every customer"
    return True


@pytest.fixture(scope="module")
def erased(shop) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "erase", "--customer", shop["id"]],
        cwd=REPO_ROOT,
        env=_env(shop["dir"]),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {"stdout": done.stdout}


def test_erase_prints_what_was_removed(shop, erased):
    out = erased["stdout"]
    rows = shop["before"]["rows"]
    assert f"raw.customers: {rows['customers']:,} row(s)" in out, out
    assert f"raw.web_events: {rows['web_events']:,} row(s)" in out, out
    assert f"raw.order_lines: {rows['order_lines']:,} row(s)" in out, out
    assert "marts.fct_orders" in out and "customer_id set to NULL" in out, out
    assert "scores.churn_scores" in out and "deleted" in out, out
    assert "exports/churn_scores.csv" in out, out
    assert "erased: no trace left" in out, out


def test_no_trace_left_in_the_warehouse(shop, erased):
    conn = duckdb.connect(str(shop["dir"] / "warehouse.duckdb"), read_only=True)
    try:
        assert text_traces(conn, [shop["id"], shop["email"]]) == {}
        assert customer_rows(conn, shop["id"]) == dict.fromkeys(SOURCES, 0)
        # Their name pair is gone from raw.customers (others may share it).
        first, last = shop["name"]
        assert (
            conn.execute(
                "select count(*) from raw.customers where first_name = ? and last_name = ?",
                [first, last],
            ).fetchone()[0]
            == shop["before"]["same_name"] - 1
        )
        # The erasure list holds the salted hash, not the id.
        assert conn.execute(f"select customer_hash from raw.{ERASURE_TABLE}").fetchall() == [
            (erasure_hash(shop["id"], SALT),)
        ]
        # Their order lines are kept without a customer: revenue does not change.
        assert revenue(conn) == shop["before"]["revenue"]
        for table in (*SOURCES, "products"):
            assert reconcile(conn, table, "raw") == [], table
    finally:
        conn.close()


def test_no_trace_left_in_exports_reports_and_models(shop, erased):
    folders = [shop["dir"] / "exports", shop["dir"] / "reports", shop["dir"] / "models"]
    assert file_traces(folders, [shop["id"], shop["email"]]) == []
    models = shop["dir"] / "models"
    versions = sorted(str(p.parent) for p in models.rglob("model.joblib"))
    if shop["before"]["held_by_models"]:
        # The versions holding the id were deleted and replaced by retrained ones.
        assert set(versions) - set(shop["before"]["versions"]), "nothing was retrained"
    # The registry is consistent: each pointer names a version whose file matches its digest.
    for folder in sorted(p for p in models.iterdir() if p.is_dir()):
        for version in (p for p in folder.iterdir() if p.is_dir()):
            load_version(models, folder.name, version.name).verify()
        if (folder / PROMOTED).exists():
            promoted_model(models, folder.name).verify()


RELOAD = textwrap.dedent(
    """
    import dagster as dg
    from orchestration.definitions import defs
    from orchestration.defs.partitions import all_days_tags
    from orchestration.settings import REFRESH_JOB, SOURCE_TABLES, get_settings
    from orchestration.instance import ensure_instance

    ensure_instance()
    keys = {dg.AssetKey(["raw", table]) for table in SOURCE_TABLES}
    job = defs().resolve_job_def(REFRESH_JOB).get_subset(asset_selection=keys)
    result = job.execute_in_process(
        instance=dg.DagsterInstance.get(), tags=all_days_tags(get_settings().config),
        raise_on_error=False,
    )
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    failed = [e.asset_check_evaluation_data.check_name for e in checks
              if not e.asset_check_evaluation_data.passed]
    print("checks", len(checks), "failed", failed)
    raise SystemExit(0 if result.success else 1)
    """
)


def test_a_reload_does_not_bring_the_customer_back(shop, erased):
    rows = shop["before"]["rows"]
    done = subprocess.run(
        [sys.executable, "-c", RELOAD],
        cwd=REPO_ROOT,
        env=_env(shop["dir"]),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # Every check of the raw tables (reconciliation, Great Expectations) ran and passed.
    assert re.search(r"checks ([6-9]|[1-9][0-9]) failed \[\]", done.stdout), done.stdout
    conn = duckdb.connect(str(shop["dir"] / "warehouse.duckdb"), read_only=True)
    try:
        assert text_traces(conn, [shop["id"], shop["email"]]) == {}
        assert revenue(conn)["raw order lines"] == shop["before"]["revenue"]["raw order lines"]
        erased_rows = dict(
            conn.execute(
                "select source_table, sum(rows_erased) from raw.load_log group by 1"
            ).fetchall()
        )
        for table in ("customers", "web_events", "reviews", "campaign_sends"):
            assert erased_rows[table] == rows[table], (table, erased_rows)
        for table in (*SOURCES, "products"):
            assert reconcile(conn, table, "raw") == [], table
    finally:
        conn.close()


def test_an_unknown_id_is_recorded_and_reported_as_not_found(tmp_path):
    from landing import ensure_raw_tables
    from orchestration.lib.erasure import erase_customer

    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        ensure_raw_tables(conn, "raw")
        report = erase_customer(conn, " NOBODY-1 ", SALT, tmp_path / "exports", tmp_path / "m")
        assert not report.found and report.newly_recorded
        assert report.customer_hash == erasure_hash("NOBODY-1", SALT)
        again = erase_customer(conn, "NOBODY-1", SALT, tmp_path / "exports", tmp_path / "m")
        assert not again.newly_recorded
        assert conn.execute(f"select customer_hash from raw.{ERASURE_TABLE}").fetchall() == [
            (erasure_hash("NOBODY-1", SALT),)
        ]
    finally:
        conn.close()


def test_model_files_are_searched_as_utf8_and_utf32(tmp_path):
    """numpy string arrays hold UTF-32-LE, pickled Python strings UTF-8: both are found, and
    removing a version drops a PROMOTED pointer that named it."""
    import joblib
    import numpy as np

    from orchestration.lib.erasure import model_versions_holding, remove_model_versions

    numpy_version = tmp_path / "recommender" / "20261201T200000123456Z"
    object_version = tmp_path / "segments" / "20261201T200000123456Z"
    clean_version = tmp_path / "segments" / "20261130T200000123456Z"
    for folder, value in (
        (numpy_version, np.array(["CUST-1", "CUST-000042"])),  # dtype <U11: UTF-32-LE
        (object_version, {"customers": ["CUST-000042"]}),
        (clean_version, np.array(["CUST-1"])),
    ):
        folder.mkdir(parents=True)
        joblib.dump(value, folder / "model.joblib")
    assert b"CUST-000042" not in (numpy_version / "model.joblib").read_bytes()
    (tmp_path / "recommender" / PROMOTED).write_text(numpy_version.name + "\n")
    (tmp_path / "segments" / PROMOTED).write_text(clean_version.name + "\n")
    assert model_versions_holding(tmp_path, ["CUST-000042"]) == [numpy_version, object_version]
    assert remove_model_versions([numpy_version, object_version]) == ["recommender", "segments"]
    assert not numpy_version.exists() and not (tmp_path / "recommender" / PROMOTED).exists()
    assert (tmp_path / "segments" / PROMOTED).read_text().strip() == clean_version.name
