"""The scored-table contract declared in dbt, the one way scored tables are written, and the
shared model result type."""

import json
from types import SimpleNamespace

import dagster as dg
import duckdb
import pandas as pd
import pytest

from ml.base import CustomerModel, ScoreResult, TrainResult
from orchestration.lib.dbt import dbt_project
from orchestration.lib.model_assets import ModelEntry, _score_new_customers, _scored_at
from orchestration.lib.scores import exported_tables, scored_table_contract, write_scores


@pytest.fixture
def contract():
    return scored_table_contract(dbt_project.manifest_path)


def test_every_scored_table_declares_typed_columns(contract):
    assert set(contract) == {
        "customer_segments",
        "churn_scores",
        "customer_value",
        "recommendations",
    }
    for columns in contract.values():
        names = [name for name, _ in columns]
        assert names[0] == "customer_id" and names[-2:] == ["model_version", "scored_at"]
    assert exported_tables(dbt_project.manifest_path)[4:] == [
        "audiences",
        "brand_exposure",
        "campaign_results",
        "customer_360",
        "personalised_recommendations",
        "recommended_products",
        "repurchase_promotion",
        "retention_care",
        "retention_list",
        "retention_list_coverage",
        "segment_profiles",
        "win_back",
    ]


def test_activation_tables_enforce_their_column_contract():
    """The tables CRM imports read have a dbt model contract: every column typed, enforced."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    for name in ("audiences", "retention_list", "retention_list_coverage", "campaign_results"):
        node = models[name]
        assert node["config"]["contract"]["enforced"], name
        assert node["columns"] and all(c["data_type"] for c in node["columns"].values()), name
    assert list(models["audiences"]["columns"]) == [
        "customer_id",
        "audience",
        "reason",
        "suggested_action",
        "priority",
        "in_control_group",
        "as_of_date",
    ]


def test_an_untyped_column_is_refused(tmp_path):
    manifest = json.loads(dbt_project.manifest_path.read_text())
    source = next(s for s in manifest["sources"].values() if s["name"] == "churn_scores")
    source["columns"]["risk_tier"]["data_type"] = None
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="risk_tier"):
        scored_table_contract(path)


def test_scores_are_written_with_the_declared_columns_and_types(contract):
    columns = contract["recommendations"]
    frame = pd.DataFrame(
        {
            "model": ["als"],
            "customer_id": ["c1"],
            "rank": [1.0],  # a float from the model becomes the declared BIGINT
            "product_id": ["p1"],
            "score": [0.5],
            "model_version": ["v1"],
            "scored_at": [pd.Timestamp("2026-01-01")],
        }
    )
    with duckdb.connect() as conn:
        write_scores(conn, "recommendations", frame, columns)
        written = conn.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_name = 'recommendations' order by ordinal_position"
        ).fetchall()
        assert written == [(name, dtype.upper()) for name, dtype in columns]
        write_scores(conn, "recommendations", None, columns)  # a skipped model: empty, same columns
        assert conn.execute("select count(*) from scores.recommendations").fetchone()[0] == 0
        with pytest.raises(ValueError, match="contract"):
            write_scores(conn, "recommendations", frame.drop(columns="score"), columns)


class _FixedPerCustomer(CustomerModel):
    """Scores that depend only on the customer; remembers whom it was asked to score."""

    name = "fixed"
    train_inputs = ()
    score_inputs = ("customer_features",)
    scores_fixed_per_customer = True

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def skip_reason(self, readiness):
        return None

    def train(self, frames, current):
        raise NotImplementedError

    def score(self, saved, frames):
        ids = frames["customer_features"]["customer_id"]
        self.asked.append(list(ids))
        return ScoreResult(
            pd.DataFrame(
                {
                    "customer_id": ids,
                    "rank": 1,
                    "product_id": "p-" + ids,
                    "score": 0.5,
                    "model": "x",
                }
            )
        )


def test_scores_fixed_per_customer_score_only_new_customers_while_the_version_is_kept(contract):
    """A recommender's scores depend only on its version and the customer: a refresh scores the
    customers without rows, drops those gone from the features and keeps the others' rows; a
    table of another version, or with other columns, is left for a whole rescoring."""
    columns = contract["recommendations"]
    model = _FixedPerCustomer()
    entry = ModelEntry(model, "recommendations", frozenset(), "", "")
    version = SimpleNamespace(version="v1", load=lambda: None)
    features = {"customer_features": dg.AssetKey(["marts", "customer_features"])}

    def table(conn):
        return conn.execute(
            "select customer_id, product_id, model_version from scores.recommendations order by 1"
        ).fetchall()

    with duckdb.connect() as conn:
        conn.execute("create schema marts")
        conn.execute(
            "create table marts.customer_features as select * from (values ('c1'), "
            "('c2'), ('c3'), ('c4')) as t (customer_id)"
        )
        earlier = pd.DataFrame({"customer_id": ["c1", "c2", "gone"]})
        scored = model.score(None, {"customer_features": earlier})
        write_scores(conn, "recommendations", _scored_at(scored.scores, version), columns)
        model.asked.clear()

        done = _score_new_customers(conn, entry, version, columns, features)
        assert model.asked == [["c3", "c4"]]
        assert "scored the 2 customer(s)" in done and "dropped the 1 " in done
        assert table(conn) == [(c, f"p-{c}", "v1") for c in ("c1", "c2", "c3", "c4")]
        assert _score_new_customers(conn, entry, version, columns, features) is not None
        assert model.asked == [["c3", "c4"]]  # nothing new: not asked again

        newer = SimpleNamespace(version="v2", load=lambda: None)
        assert _score_new_customers(conn, entry, newer, columns, features) is None
        conn.execute("alter table scores.recommendations drop column score")
        assert _score_new_customers(conn, entry, version, columns, features) is None
        assert len(table(conn)) == 4


def _result(baselines: dict[str, float], current: float | None = None) -> TrainResult:
    return TrainResult(
        model=None,
        metric="auc",
        higher_is_better=True,
        metrics={"ours": {"auc": 0.8}, **{name: {"auc": v} for name, v in baselines.items()}},
        baselines=list(baselines),
        train_window=("2026-01-01", "2026-06-01"),
        holdout_window=("2026-06-01", "2026-09-01"),
        current_metrics={"auc": current} if current is not None else None,
    )


def test_train_result_gate():
    assert _result({"rule": 0.7}).gate().promoted
    assert _result({"rule": 0.7}).best_baseline() == ("rule", 0.7)
    assert not _result({"rule": 0.85}).gate().promoted
    assert not _result({"rule": 0.7}, current=0.9).gate().promoted  # worse than the model in use
    # A baseline chosen as the model has no baseline left to beat: it is promoted on its own merit.
    alone = _result({})
    assert alone.best_baseline() is None and alone.beats_baselines() and alone.gate().promoted
