"""Personal data: the pseudonymization salt and the values shown in quality checks.

- The salt comes from the environment (PII_SALT) or a secrets file (PII_SALT_FILE); a config with
  real data (no `synthetic:` block) refuses to run without one; only the synthetic shop falls
  back to the public dev salt.
- The salt is bound as a query parameter by the Python model stg_shop__customers: a quote or a
  backslash in it works, and it appears neither in dbt's target folder (compiled and run files,
  manifest, logs) nor in the warehouse (catalog SQL of tables and views, the database file).
- Failing Great Expectations values of personal columns are masked before they enter a check's
  metadata (Dagster's event log and UI).
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from landing import ConfigError, load_config
from orchestration.defs.quality import build_suite_check
from orchestration.lib.expectations import (
    PERSONAL_COLUMNS,
    discover_suites,
    mask,
    scrub,
    validate,
    validate_table,
)
from orchestration.lib.warehouse import WarehouseResource
from orchestration.settings import (
    DBT_PROJECT_DIR,
    DEFAULT_CONFIG,
    DEV_PII_SALT,
    EXPECTATIONS_DIR,
    PII_SALT_FILE_VARIABLE,
    PII_SALT_VARIABLE,
    REPO_ROOT,
    resolve_pii_salt,
)

DBT = str(Path(sys.executable).with_name("dbt"))
# A salt that broke the old SQL (a quote), with a backslash and a double quote, and unique enough
# that finding it anywhere means it leaked.
HOSTILE_SALT = 'it\'s a \\ "salt" 7f3c9e1b-privacy-test'
EMAILS = [" John.Doe@Example.com", "anna@shop.de", None, "  ", "Bob@Mail.org"]


def _real_data_config(tmp_path: Path) -> Path:
    """A config with real data (no `synthetic:` block) whose every path is under tmp_path."""
    config = yaml.safe_load((REPO_ROOT / "configs" / "online_retail_ii.yml").read_text())
    config["data_dir"] = str(tmp_path / "data")
    config["sources"]["order_lines"]["path"] = str(tmp_path / "landing" / "*.csv")
    path = tmp_path / "real.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _expected_hash(salt: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return hashlib.sha256((salt + value.strip().lower()).encode()).hexdigest()


# --- Where the salt comes from ----------------------------------------------------------------


def test_salt_from_the_environment(tmp_path):
    config = load_config(_real_data_config(tmp_path))
    assert resolve_pii_salt(config, {PII_SALT_VARIABLE: HOSTILE_SALT}) == HOSTILE_SALT


def test_salt_from_a_secrets_file(tmp_path):
    config = load_config(_real_data_config(tmp_path))
    secret = tmp_path / "pii_salt"
    secret.write_text(HOSTILE_SALT + "\n")  # `echo salt > file`: the newline is not the salt's
    assert resolve_pii_salt(config, {PII_SALT_FILE_VARIABLE: str(secret)}) == HOSTILE_SALT
    secret.write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        resolve_pii_salt(config, {PII_SALT_FILE_VARIABLE: str(secret)})
    with pytest.raises(ConfigError, match="cannot read the pseudonymization salt"):
        resolve_pii_salt(config, {PII_SALT_FILE_VARIABLE: str(tmp_path / "missing")})
    with pytest.raises(ConfigError, match="both PII_SALT and PII_SALT_FILE"):
        resolve_pii_salt(config, {PII_SALT_VARIABLE: "x", PII_SALT_FILE_VARIABLE: str(secret)})


def test_only_the_synthetic_shop_falls_back_to_the_dev_salt(tmp_path):
    assert resolve_pii_salt(load_config(DEFAULT_CONFIG), {}) == DEV_PII_SALT
    assert resolve_pii_salt(load_config(DEFAULT_CONFIG), {PII_SALT_VARIABLE: "own"}) == "own"
    config_path = _real_data_config(tmp_path)
    with pytest.raises(ConfigError) as error:
        resolve_pii_salt(load_config(config_path), {PII_SALT_VARIABLE: ""})
    message = str(error.value)
    assert str(config_path) in message
    assert "PII_SALT" in message and "PII_SALT_FILE" in message
    assert "synthetic" in message


def test_real_data_config_without_salt_refuses_to_run(tmp_path):
    """`make run` on a config with real data and no salt stops before anything runs, and says
    which variables to set and for which config."""
    config_path = _real_data_config(tmp_path)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in (PII_SALT_VARIABLE, PII_SALT_FILE_VARIABLE)
    }
    env |= {
        "SHOP_CONFIG": str(config_path),
        "HOME": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert str(config_path) in done.stderr
    assert "no pseudonymization salt" in done.stderr
    assert "PII_SALT" in done.stderr and "PII_SALT_FILE" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()  # refused before creating anything


# --- The salt never reaches SQL text, dbt's artefacts or the warehouse catalog -----------------


def _dbt_run_customers(warehouse: Path, target: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        [DBT, "run", "--select", "stg_shop__customers"]
        + ["--target-path", str(target), "--log-path", str(target / "logs")]
        + ["--profiles-dir", str(DBT_PROJECT_DIR)],
        cwd=DBT_PROJECT_DIR,
        env={**env, "DUCKDB_PATH": str(warehouse)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _files_holding(folder: Path, secret: str) -> list[Path]:
    needle = secret.encode()
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.fixture(scope="module")
def tiny_warehouse(tmp_path_factory):
    """A scratch warehouse holding only raw.customers, five customers."""
    folder = tmp_path_factory.mktemp("privacy")
    warehouse = folder / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("create schema raw")
        conn.execute(
            "create table raw.customers (customer_id varchar, signup_at timestamp, "
            "country varchar, acquisition_channel varchar, email varchar, first_name varchar, "
            "last_name varchar)"
        )
        conn.executemany(
            "insert into raw.customers values (?, timestamp '2024-01-01', 'de', 'organic', ?, ?, ?)",
            [
                [f"C{i}", email, first, "Doe"]
                for i, (email, first) in enumerate(
                    zip(EMAILS, ["John", "Anna", None, " ", "Bob"], strict=True)
                )
            ],
        )
    return folder, warehouse


def test_salt_with_quotes_is_bound_not_written_into_sql_or_dbt_artefacts(tiny_warehouse):
    folder, warehouse = tiny_warehouse
    env = {k: v for k, v in os.environ.items() if k != PII_SALT_FILE_VARIABLE}
    target = folder / "target"
    _dbt_run_customers(warehouse, target, {**env, PII_SALT_VARIABLE: HOSTILE_SALT})

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(
            "select customer_id, email_hash, name_hash from staging.stg_shop__customers "
            "order by customer_id"
        ).fetchall()
        catalog = conn.execute(
            "select coalesce(sql, '') from duckdb_tables() union all "
            "select coalesce(sql, '') from duckdb_views() where not internal"
        ).fetchall()
    assert [email for _, email, _ in rows] == [_expected_hash(HOSTILE_SALT, e) for e in EMAILS]
    assert rows[0][2] == _expected_hash(HOSTILE_SALT, "John Doe")
    assert any("stg_shop__customers" in sql for (sql,) in catalog)
    assert not [sql for (sql,) in catalog if HOSTILE_SALT in sql]
    assert (target / "manifest.json").exists() and (target / "run").is_dir()
    assert _files_holding(target, HOSTILE_SALT) == []
    assert _files_holding(folder, HOSTILE_SALT) == []  # nor the database file itself
    assert _files_holding(target, DEV_PII_SALT) == []


def test_salt_from_a_file_reaches_dbt(tiny_warehouse, tmp_path):
    folder, warehouse = tiny_warehouse
    secret = tmp_path / "pii_salt"
    secret.write_text("file salt ' \\ 5d1e\n")
    env = {k: v for k, v in os.environ.items() if k != PII_SALT_VARIABLE}
    _dbt_run_customers(warehouse, folder / "target", {**env, PII_SALT_FILE_VARIABLE: str(secret)})
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        (email_hash,) = conn.execute(
            "select email_hash from staging.stg_shop__customers where customer_id = 'C1'"
        ).fetchone()
    assert email_hash == _expected_hash("file salt ' \\ 5d1e", "anna@shop.de")
    assert _files_holding(folder, "file salt ' \\ 5d1e") == []


# --- Failing values of personal columns are masked in check metadata ---------------------------

BAD_EMAILS = ["john.doe@example", "anna shop@mail.de", "bob.smith@mail.org", "bob.smith@mail.org"]


def _suite(name: str):
    return next(s for s in discover_suites(EXPECTATIONS_DIR) if s.name == name)


def test_mask_shows_the_shape_not_the_value():
    assert mask("john.doe@example.com") == "j***.d***@e***.c***"
    assert mask("anna shop@mail.de") == "a*** s***@m***.***"
    assert mask(None) is None and mask(["Zoë"]) == ["Z***"]
    assert scrub("could not parse bob@mail.org here") == "could not parse b***@m***.o*** here"
    assert {"email", "first_name", "last_name"} <= PERSONAL_COLUMNS


def test_failing_email_values_are_masked_in_check_metadata(tmp_path):
    @dg.asset(key=["raw", "customers"])
    def bad_customers(duckdb: WarehouseResource) -> None:
        with duckdb.get_connection() as conn:
            conn.execute("create schema raw")
            conn.execute(
                "create table raw.customers (customer_id varchar, signup_at timestamp, "
                "country varchar, email varchar)"
            )
            conn.executemany(
                "insert into raw.customers values (?, timestamp '2024-01-01', 'DE', ?)",
                [[f"C{i}", email] for i, email in enumerate(BAD_EMAILS)],
            )

    result = dg.materialize(
        [bad_customers, build_suite_check(_suite("raw_customers"))],
        resources={"duckdb": WarehouseResource(database=str(tmp_path / "w.duckdb"))},
        raise_on_error=False,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    text = json.dumps({k: str(getattr(v, "value", v)) for k, v in evaluation.metadata.items()})
    assert "expect_column_values_to_match_regex" in text
    assert "j***.d***@e***" in text  # the failing shape is still visible
    for email in BAD_EMAILS:
        assert email not in text
        assert email.split("@")[0] not in text


def test_personal_columns_of_a_suite_and_duplicates_are_masked(tmp_path):
    """A suite's meta `personal_columns` is masked like the canonical ones, on GE's path and on
    the uniqueness check computed in DuckDB."""
    suite_file = tmp_path / "contacts.json"
    suite_file.write_text(
        json.dumps(
            {
                "name": "contacts",
                "meta": {
                    "table": "raw.contacts",
                    "asset_key": ["raw", "contacts"],
                    "personal_columns": ["phone"],
                },
                "expectations": [
                    {
                        "type": "expect_column_values_to_match_regex",
                        "kwargs": {"column": "phone", "regex": "^\\+[0-9]+$"},
                    },
                    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "email"}},
                    {
                        "type": "expect_column_values_to_match_regex",
                        "kwargs": {"column": "first_name", "regex": "^[A-Z][a-z]+$"},
                    },
                ],
            }
        )
    )
    (suite,) = discover_suites(tmp_path)
    assert "phone" in suite.personal_columns
    frame = pd.DataFrame(
        {
            "phone": ["0049 170 1234567", "+491701234567"],
            "email": BAD_EMAILS[2:],
            "first_name": ["jOHN", "Anna"],
        }
    )
    with duckdb.connect() as conn:
        conn.execute("create schema raw")
        conn.register("contacts_frame", frame)
        conn.execute("create table raw.contacts as select * from contacts_frame")
        report = validate_table(conn, suite, None, 100)
    direct = validate(frame, suite)
    texts = [f"{f.observed} {f.details}" for f in [*report.outcome.failures, *direct.failures]]
    assert len(report.outcome.failures) == 3, texts
    joined = " ".join(texts)
    for secret in ("1234567", "0049", "bob.smith", "mail.org", "jOHN"):
        assert secret not in joined, joined
    assert "0*** 1*** 1***" in joined and "b***.s***@m***.o***" in joined
