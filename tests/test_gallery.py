"""The shop gallery: `make run`'s whole pipeline on shops unlike the default one (the simulator's
archetypes), each in its own folder. Every run must succeed and leave every scored table behind,
with rows or with each model's skip reason; a shop with data for a model must train it.

`make test` runs two archetypes far from the default shop (nobody orders twice; three weeks of
history), because each run costs minutes; `GALLERY=all make test` (or `make gallery`, which
prints the table) runs all nine."""

import os

import pytest

from landing import load_config
from orchestration.defs.models import model_entries
from orchestration.gallery import run_archetype
from orchestration.lib.dbt import dbt_project
from orchestration.lib.scores import exported_tables
from orchestration.settings import REPO_ROOT
from simulator import ARCHETYPES

# Whole pipeline runs or Dagster processes: `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow

CORE = ("one_time_buyers", "short_history")
NAMES = list(ARCHETYPES) if os.environ.get("GALLERY") == "all" else list(CORE)
# Each model's scored table, as the platform declares them.
SCORES_OF = {
    entry.model.name: entry.scores_table
    for entry in model_entries(load_config(REPO_ROOT / "configs" / "synthetic.yml"))
}
# What each archetype's data cannot support, by design (every other model must train).
EXPECTED_SKIPS = {
    "tiny": {"customer_segmentation", "churn", "customer_value"},
    "one_time_buyers": {"churn", "customer_value"},  # everyone churns: one outcome only
    "one_product": {"recommender"},
    "no_products": {"recommender"},
    "short_history": {"churn", "customer_value", "recommender"},  # nothing before the holdout
}


@pytest.mark.parametrize("name", NAMES)
def test_archetype_runs_and_every_scored_table_is_there(name, tmp_path):
    result = run_archetype(name, tmp_path / name)
    assert result.exit_code == 0, result.output[-4000:]
    assert set(result.models) == set(SCORES_OF), result.models
    for table in exported_tables(dbt_project.manifest_path):
        assert result.table_rows[table] is not None, f"{table} missing"
    assert result.table_rows["customer_360"] > 0
    skipped = {model for model, what in result.models.items() if what.startswith("skipped: ")}
    assert skipped == EXPECTED_SKIPS.get(name, set()), result.models
    for model in SCORES_OF:
        rows = result.table_rows[SCORES_OF[model]]
        if model in skipped:
            assert rows == 0 and len(result.models[model]) > len("skipped: ") + 20
        else:
            assert result.models[model].startswith("trained: ") and rows > 0, result.models
