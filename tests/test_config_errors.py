"""Config mistakes name the file and the key; a user's Dagster instance config is never replaced.

Each test is a case that the old code got wrong: YAML's date and boolean surprises, a time zone
zoneinfo loads but DuckDB refuses, and a user's dagster.yaml overwritten without a backup. Fast:
no pipeline, no Dagster run.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from landing import ConfigError, load_config
from landing.config import known_zones
from orchestration.instance import INSTANCE_YAML, ensure_instance
from orchestration.settings import Settings, check_landing_is_separate

CONFIG = """\
name: shop
data_dir: .
timezone: {timezone}
first_day: {first_day}
last_day: {last_day}
sources:
  order_lines:
    path: landing/*.csv
    format: {format}
    columns:
      customer_id: Customer
      ordered_at: Date
      amount: Amount
      status: {status}
"""
GOOD = {
    "timezone": "Europe/Berlin",
    "first_day": "2024-02-28",
    "last_day": "2024-12-31",
    "format": "csv",
    "status": "State",
}


def _write(tmp_path: Path, **changes: str) -> Path:
    """A minimal config written as text (not through yaml.safe_dump, which would quote the
    surprises away)."""
    path = tmp_path / "shop.yml"
    path.write_text(CONFIG.format(**(GOOD | changes)))
    return path


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as error:
        load_config(path)
    return str(error.value)


def test_the_minimal_config_loads(tmp_path):
    config = load_config(_write(tmp_path))
    assert str(config.first_day) == "2024-02-28" and config.timezone == "Europe/Berlin"
    assert config.sources["order_lines"].columns["status"] == "State"


@pytest.mark.parametrize("key", ["first_day", "last_day"])
def test_an_impossible_date_names_the_file_and_the_key(tmp_path, key):
    """Old: yaml.safe_load raised `ValueError: day is out of range for month`, a traceback
    naming neither the file nor the key."""
    path = _write(tmp_path, **{key: "2024-02-30"})
    message = _error(path)
    assert str(path) in message
    assert f"{key}: expected a real calendar date YYYY-MM-DD" in message
    assert "'2024-02-30'" in message


def test_a_date_written_as_a_number_is_refused(tmp_path):
    message = _error(_write(tmp_path, first_day="20240228"))
    assert "first_day: expected a real calendar date YYYY-MM-DD" in message


@pytest.mark.parametrize(
    ("changes", "key", "written"),
    [
        ({"status": "Off"}, "sources.order_lines.columns.status", "Off"),
        ({"status": "yes"}, "sources.order_lines.columns.status", "yes"),
        ({"format": "no"}, "sources.order_lines.format", "no"),
    ],
)
def test_a_yaml_boolean_where_text_is_expected_names_the_key_and_says_quote_it(
    tmp_path, changes, key, written
):
    """Old: `status: Off` gave `...columns.status: Input should be a valid string`, which does
    not say that YAML turned Off into false."""
    path = _write(tmp_path, **changes)
    message = _error(path)
    assert str(path) in message
    line = next(line for line in message.splitlines() if line.strip().startswith(key + ":"))
    assert f"got {written}" in line and "as booleans" in line
    assert f"quote it: '{written}'" in line


def test_a_yaml_boolean_as_a_name_or_a_key(tmp_path):
    path = _write(tmp_path)
    text = path.read_text().replace("name: shop", "name: on")
    path.write_text(text + "      on: Flag\n")
    message = _error(path)
    assert "  name: expected text, got on" in message
    assert "  sources.order_lines.columns.on: expected a text key, got on" in message


def test_a_quoted_boolean_word_is_text(tmp_path):
    config = load_config(_write(tmp_path, status="'Off'"))
    assert config.sources["order_lines"].columns["status"] == "Off"


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory"])
def test_a_zone_duckdb_cannot_use_is_refused_up_front(tmp_path, zone):
    """Old: `localtime` passed (zoneinfo loads it) and ingestion failed in DuckDB's
    `SET TimeZone`."""
    path = _write(tmp_path, timezone=zone)
    message = _error(path)
    assert str(path) in message
    assert "timezone: expected an IANA time zone name such as 'Europe/Berlin'" in message
    assert repr(zone) in message


def test_a_source_zone_is_checked_the_same_way(tmp_path):
    path = _write(tmp_path)
    path.write_text(path.read_text().replace("    format: csv\n", "    timezone: localtime\n"))
    assert "sources.order_lines.timezone: expected an IANA time zone name" in _error(path)


def test_every_accepted_zone_works_in_duckdb():
    zones = known_zones()
    assert {"UTC", "Europe/Berlin", "America/New_York"} <= zones
    assert not {"localtime", "posixrules", "Factory"} & zones
    with duckdb.connect() as conn:
        for zone in sorted(zones):
            conn.execute(f"set TimeZone = '{zone}'")


USER_YAML = """\
# my own instance: run history in Postgres
storage:
  postgres:
    postgres_db:
      username: dagster
      password:
        env: DAGSTER_PG_PASSWORD
      hostname: db.internal
      db_name: dagster
      port: 5432
telemetry:
  enabled: true
"""


def test_a_user_dagster_yaml_is_kept_backed_up_and_given_the_pool_limit(
    tmp_path, monkeypatch, capsys
):
    """Old: ensure_instance replaced any dagster.yaml that differed from the platform's, so the
    Postgres storage was dropped without a copy."""
    monkeypatch.setenv("DAGSTER_HOME", "unused")  # restored after the test
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(USER_YAML)

    ensure_instance(home)

    text = (home / "dagster.yaml").read_text()
    merged = yaml.safe_load(text)
    assert merged["storage"] == yaml.safe_load(USER_YAML)["storage"]
    assert merged["telemetry"] == {"enabled": True}  # the user's choice, not the platform's
    assert merged["concurrency"]["pools"]["default_limit"] == 1
    assert merged["nux"] == {"enabled": False} and merged["run_monitoring"] == {"enabled": True}
    assert "# my own instance: run history in Postgres" in text  # comments kept too
    assert (home / "dagster.yaml.bak").read_text() == USER_YAML
    printed = capsys.readouterr()
    assert "added concurrency.pools.default_limit: 1" in printed.out + printed.err

    ensure_instance(home)  # nothing more to add: unchanged, the backup is the original
    assert (home / "dagster.yaml").read_text() == text
    assert (home / "dagster.yaml.bak").read_text() == USER_YAML


def test_a_user_pool_limit_is_kept_with_a_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", "unused")
    home = tmp_path / "dagster"
    home.mkdir()
    user = "concurrency:\n  pools:\n    default_limit: 4\n  runs:\n    max_concurrent_runs: 2\n"
    (home / "dagster.yaml").write_text(user)

    ensure_instance(home)

    merged = yaml.safe_load((home / "dagster.yaml").read_text())
    assert merged["concurrency"] == {
        "pools": {"default_limit": 4},
        "runs": {"max_concurrent_runs": 2},
    }
    assert {"telemetry", "nux", "run_monitoring"} <= set(merged)
    printed = capsys.readouterr()
    assert "keeping your concurrency.pools.default_limit: 4" in printed.out + printed.err
    assert (home / "dagster.yaml.bak").read_text() == user


def test_the_platforms_own_dagster_yaml_is_rewritten_without_a_backup(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", "unused")
    home = tmp_path / "dagster"
    ensure_instance(home)
    assert (home / "dagster.yaml").read_text() == INSTANCE_YAML

    # An older version of the platform's file (same first line): updated in place.
    old = INSTANCE_YAML.replace("default_limit: 1", "default_limit: 2")
    (home / "dagster.yaml").write_text(old)
    ensure_instance(home)
    assert (home / "dagster.yaml").read_text() == INSTANCE_YAML
    assert not (home / "dagster.yaml.bak").exists()


@pytest.mark.parametrize(
    ("path", "said", "written"),
    [
        ("exports/*.csv", "matches", "exports"),  # inside a folder the platform writes
        ("models/**", "can match files in", "models"),  # even before it holds files
        ("**/*.csv", "can match files in", "warehouse.duckdb"),  # recursive from above them
        ("*/*.csv", "matches", "exports"),  # one level down: caught by what it matches now
    ],
)
def test_a_source_that_could_read_the_platforms_own_files_is_refused(tmp_path, path, said, written):
    """Landing files and what the platform writes (warehouse, models, exports, reports) stay
    apart: a glob that reaches the exports would load them back as orders."""
    config = _write(tmp_path)
    config.write_text(config.read_text().replace("path: landing/*.csv", f"path: '{path}'"))
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "customer_360.csv").write_text("customer_id\n1\n")
    settings = Settings(config, load_config(config))
    with pytest.raises(ConfigError) as error:
        check_landing_is_separate(settings)
    message = str(error.value)
    assert message.startswith(f"{config}: sources.order_lines.path: '{path}' {said}")
    assert f"{tmp_path / written}, which the platform writes" in message


def test_landing_files_beside_the_platforms_folders_are_fine(tmp_path):
    config = _write(tmp_path)
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "customer_360.csv").write_text("customer_id\n1\n")
    check_landing_is_separate(Settings(config, load_config(config)))  # landing/*.csv
