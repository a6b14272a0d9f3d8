"""Under `dagster dev` the dbt project is parsed again only when it changed since its manifest was
written (orchestration/lib/dbt.py, ParseWhenChanged): the code server and every run worker it
starts load the definitions, and a parse costs each about 6 s."""

import json
import os
import sys
import time
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.lib.dbt import ParseWhenChanged, manifest_is_current

PROFILE = """shop:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: ":memory:"
"""


def _project(folder: Path) -> DbtProject:
    """A one-model dbt project whose manifest is older than nothing in it."""
    (folder / "models").mkdir(parents=True)
    (folder / "dbt_project.yml").write_text(
        "name: shop\nversion: '1.0'\nconfig-version: 2\nprofile: shop\n"
    )
    (folder / "profiles.yml").write_text(PROFILE)
    (folder / "models" / "first.sql").write_text("select 1 as one\n")
    (folder / "target").mkdir()
    (folder / "target" / "manifest.json").write_text("{}")
    for path in [folder, *folder.rglob("*")]:
        _age(path, 100)
    _age(folder / "target" / "manifest.json", 50)
    return DbtProject(project_dir=folder, profiles_dir=folder)


def _age(path: Path, seconds: float = 100) -> None:
    """`path` last changed `seconds` ago (0: now)."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_manifest_is_current_until_a_file_of_the_project_changes(tmp_path):
    project = _project(tmp_path / "dbt")
    models = tmp_path / "dbt" / "models"
    assert manifest_is_current(project)

    # dbt's and Python's output folders are not the project
    for generated in ("target/run", "logs", "dbt_packages/pkg", "models/__pycache__"):
        (tmp_path / "dbt" / generated).mkdir(parents=True)
        _age(tmp_path / "dbt" / generated, 0)
    _age(models)  # the __pycache__ folder was made in models
    assert manifest_is_current(project)
    # ... but a folder of the project's own named like one of dbt's is
    (models / "logs").mkdir()
    (models / "logs" / "web_logs.sql").write_text("select 1 as one\n")
    _age(models)
    _age(models / "logs")
    assert not manifest_is_current(project)
    (models / "logs" / "web_logs.sql").unlink()
    (models / "logs").rmdir()
    _age(models)
    assert manifest_is_current(project)

    _age(models / "first.sql", 0)  # an edit
    assert not manifest_is_current(project)

    _age(models / "first.sql")
    assert manifest_is_current(project)
    (models / "first.sql").unlink()  # a removal: only the folder's time says so
    _age(models, 0)
    assert not manifest_is_current(project)

    project.manifest_path.unlink()
    assert not manifest_is_current(project)


def test_dagster_dev_parses_a_changed_project_and_leaves_a_current_manifest(tmp_path, monkeypatch):
    project = _project(tmp_path / "dbt")
    monkeypatch.setenv("DAGSTER_IS_DEV_CLI", "1")
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")

    ParseWhenChanged().prepare_if_dev(project)
    assert project.manifest_path.read_text() == "{}"  # current: not parsed

    (tmp_path / "dbt" / "models" / "second.sql").write_text("select 2 as two\n")
    ParseWhenChanged().prepare_if_dev(project)
    nodes = json.loads(project.manifest_path.read_text())["nodes"]
    assert {node["name"] for node in nodes.values()} == {"first", "second"}
    assert manifest_is_current(project)
