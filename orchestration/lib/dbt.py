"""dbt in Dagster: the project, the translator that keys models by warehouse schema and table,
and the dbt CLI resource. The assets built from them are in orchestration/defs/transform.py."""

import sys
from collections.abc import Mapping, Sequence
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
)
from packaging.version import Version

from orchestration.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# Only acts under `dagster dev`; `make` runs `dbt parse` once at set-up otherwise.
dbt_project.prepare_if_dev()


class ShopDbtTranslator(DagsterDbtTranslator):
    """Models are keyed `<schema>/<model>` and grouped by schema, so the UI mirrors the warehouse."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "model":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "model":
            return dbt_resource_props["schema"]
        return super().get_group_name(dbt_resource_props)


translator = ShopDbtTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True, enable_source_tests_as_checks=False
    )
)


class ShopDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two costs paid before every dbt command, about 11 s a run:
    it runs `dbt --version` in a subprocess to learn the version (5 s: it imports dbt), and it
    builds a dbt adapter in the step's process (4 s to import dbt, then 2 s a command) used only by
    `fetch_column_metadata` and `fetch_row_counts`, which this project does not call. The version
    is the installed dbt-core's: the executable below is the one beside this interpreter."""

    @cached_property
    def _cli_version(self) -> Version:
        return Version(version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


# The dbt installed beside this interpreter, so the venv need not be on PATH.
dbt_resource = ShopDbtCliResource(
    project_dir=dbt_project, dbt_executable=str(Path(sys.executable).with_name("dbt"))
)
