"""Product recommendations: the candidate recommenders (ml.recommenders) evaluated offline, and
the best one chosen.

Evaluation holds out the last period: each candidate is fitted on the interactions before it and
must rank the products each customer bought during it. `select_candidate` picks the one with the
highest NDCG@k, the simpler one on a tie.

    evaluation = evaluate_candidates(interactions, k=10)
    name = select_candidate(evaluation, k=10)
    model = build_recommender(name).fit(full_history_interactions)
    model.recommend(customer_ids, n=10)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from ml.base import CannotTrain, Chart, ScoreResult, TrainResult, day
from ml.metrics import catalogue_coverage, ranking_metrics
from ml.models import RecommenderModel  # noqa: F401  (declared there, importable here)
from ml.recommenders import (
    CANDIDATES,
    POPULARITY,
    CatalogueTooLargeError,
    Recommender,
    build_recommender,
)
from ml.sampling import customer_sample

log = logging.getLogger(__name__)

# Interaction columns of customer_product_interactions, and the holdout split's equivalents.
# The decayed purchase counts (read by tifu_knn) are measured back from the data's last day, and
# for the holdout split from the day before the holdout start.
FULL_HISTORY = {
    "purchases": "purchases",
    "add_to_carts": "add_to_carts",
    "views": "views",
    "decayed_purchases": "decayed_purchases",
}
BEFORE_HOLDOUT = {
    "purchases": "purchases_before_holdout",
    "add_to_carts": "add_to_carts_before_holdout",
    "views": "views_before_holdout",
    "decayed_purchases": "decayed_purchases_before_holdout",
}
# The candidates are compared on the interactions of at most this many customers: beyond it on
# a fixed sample (customer_sample: those whose ids hash lowest, mostly the same ones from one
# retraining to the next), so the comparison stops growing with the shop; the chosen candidate
# is then fitted on every customer. README "Performance" has the metrics sampled against all.
MAX_COMPARED_CUSTOMERS = 100_000
# Columns the recommenders can do without (tables built before they existed, hand-made frames):
# without decayed purchases, tifu_knn uses the plain purchase counts.
OPTIONAL = frozenset({"decayed_purchases"})


def recommender_input(interactions: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    """customer_id, product_id and the `columns` (recommender name: table column) under the
    recommenders' names; an OPTIONAL column missing from the table is left out."""
    present = {
        name: column
        for name, column in columns.items()
        if name not in OPTIONAL or column in interactions.columns
    }
    return interactions[["customer_id", "product_id", *present.values()]].rename(
        columns={column: name for name, column in present.items()}
    )


def holdout_split(interactions: pd.DataFrame) -> tuple[pd.DataFrame, dict[object, set[object]]]:
    """Training interactions before the holdout and, per customer with history, what they bought in it."""
    train = recommender_input(interactions, BEFORE_HOLDOUT)
    train = train[(train.drop(columns=["customer_id", "product_id"]) > 0).any(axis=1)]
    warm = set(train["customer_id"])
    bought = interactions[
        (interactions["purchases_in_holdout"] > 0) & interactions["customer_id"].isin(warm)
    ]
    truth = bought.groupby("customer_id")["product_id"].agg(set).to_dict()
    return train, truth


def evaluate_candidates(
    interactions: pd.DataFrame,
    k: int = 10,
    filter_already_bought: bool = False,
    candidates: Iterable[str] | Mapping[str, Recommender] | None = None,
    fitted: MutableMapping[str, Recommender] | None = None,
    split: tuple[pd.DataFrame, dict[object, set[object]]] | None = None,
) -> dict[str, dict[str, float]]:
    """Fit each candidate on the interactions before the holdout; score its top k on the holdout.

    `interactions` has the customer_product_interactions columns (*_before_holdout and
    purchases_in_holdout). `candidates`: names from CANDIDATES (default: all of them), built with
    `filter_already_bought`, or a mapping of name to an unfitted recommender (cloned before
    fitting, its own filter_already_bought kept). Returns, per candidate,
    recall_at_{k}, ndcg_at_{k} (means over holdout buyers with earlier history),
    coverage (share of the products seen before the holdout recommended to any of them),
    customers_evaluated and fit_seconds. A candidate that cannot handle the catalogue size
    (CatalogueTooLargeError) is left out with a warning. If `fitted` is given, each evaluated
    model (fitted before the holdout) is stored in it by name. `split`: holdout_split's result for
    `interactions`, when the caller has it already.
    """
    train, truth = split if split is not None else holdout_split(interactions)
    if not truth:
        raise CannotTrain("no customer with earlier history bought anything in the holdout period")
    if candidates is None:
        candidates = list(CANDIDATES)
    elif isinstance(candidates, str):
        candidates = [candidates]
    if isinstance(candidates, Mapping):
        models = {name: clone(model) for name, model in candidates.items()}
    else:
        models = {name: build_recommender(name, filter_already_bought) for name in candidates}
    n_products = train["product_id"].nunique()
    evaluation: dict[str, dict[str, float]] = {}
    for name, model in models.items():
        started = time.perf_counter()
        try:
            model.fit(train)
        except CatalogueTooLargeError as error:
            log.warning("Recommender candidate %s left out: %s", name, error)
            continue
        fit_seconds = time.perf_counter() - started
        if fitted is not None:
            fitted[name] = model
        evaluation[name] = {
            **evaluate_fitted(model, truth, k, n_products),
            "fit_seconds": round(fit_seconds, 3),
        }
    return evaluation


def evaluate_fitted(
    model: Recommender, truth: Mapping[object, set[object]], k: int, n_products: int
) -> dict[str, float]:
    """recall_at_{k}, ndcg_at_{k}, customers_evaluated and coverage of an already fitted model.

    `truth` as from holdout_split; coverage = distinct products in the top k of the customers in
    `truth`, as a share of `n_products` (evaluate_candidates: products in the training data).
    """
    recs = model.recommend(list(truth), k)
    as_lists = recs.groupby("customer_id", sort=False)["product_id"].agg(list).to_dict()
    return {
        **ranking_metrics(as_lists, truth, k),
        "coverage": catalogue_coverage(recs, n_products),
    }


def select_candidate(evaluation: Mapping[str, Mapping[str, float]], k: int = 10) -> str:
    """The candidate with the highest NDCG@k; on a tie the simpler one (CANDIDATES order)."""
    metric = f"ndcg_at_{k}"
    scored = {
        name: float(result[metric])
        for name, result in evaluation.items()
        if metric in result and np.isfinite(result[metric])
    }
    if not scored:
        raise ValueError(f"No candidate with a finite {metric} to select from")
    best = max(scored.values())
    simplicity = {name: i for i, name in enumerate(CANDIDATES)}
    tied = [name for name, value in scored.items() if value >= best - 1e-12]
    return min(tied, key=lambda name: (simplicity.get(name, len(simplicity)), name))


def fit_and_evaluate(
    frames: Mapping[str, pd.DataFrame],
    current: Any | None,
    k: int,
    already_bought: bool,
    first_day: str | None,
    max_compared_customers: int | None = MAX_COMPARED_CUSTOMERS,
) -> TrainResult:
    """`RecommenderModel.train` (ml/models.py): every candidate ranked by NDCG@k on the holdout
    period (the interactions of at most `max_compared_customers` customers, None: all), the
    winner refitted on the whole history of every customer."""
    interactions = frames["customer_product_interactions"]
    compared = customer_sample(interactions, max_compared_customers)
    filter_bought = not already_bought
    customers_compared = int(compared["customer_id"].nunique())
    train, truth = split = holdout_split(compared)
    fitted: dict[str, Recommender] = {}  # each candidate, fitted before the holdout
    evaluation = evaluate_candidates(
        compared, k=k, filter_already_bought=filter_bought, fitted=fitted, split=split
    )
    chosen = select_candidate(evaluation, k)
    evaluation_model = fitted[chosen]
    current_metrics = None
    if current is not None:
        current_metrics = evaluate_fitted(
            current["evaluation_model"], truth, k, train["product_id"].nunique()
        )
    # Not held during the final fit on every customer: the sample and the other candidates.
    del compared, train, split, fitted
    model = build_recommender(chosen, filter_bought).fit(
        recommender_input(interactions, FULL_HISTORY)
    )
    metric = f"ndcg_at_{k}"
    ordered = {chosen: evaluation[chosen]} | {
        name: values for name, values in evaluation.items() if name != chosen
    }
    holdout_start = day(interactions["holdout_start_date"].iloc[0])
    holdout_end = day(frames["customer_features"]["as_of_date"].max())
    return TrainResult(
        model={"model": model, "evaluation_model": evaluation_model, "name": chosen},
        metric=metric,
        higher_is_better=True,
        metrics=ordered,
        baselines=[POPULARITY] if chosen != POPULARITY else [],
        current_metrics=current_metrics,
        train_window=(first_day or holdout_start, holdout_start),
        holdout_window=(holdout_start, holdout_end),
        version_metadata={"chosen": chosen},
        details={
            "chosen_model": chosen,
            "selection": f"highest {metric} on the holdout period among {', '.join(evaluation)}",
            "already_bought_recommended": already_bought,
            "customers_evaluated": len(truth),
            "customers_compared": customers_compared,
            "customers_fitted": int(interactions["customer_id"].nunique()),
            "products": int(interactions["product_id"].nunique()),
        },
        charts={
            "metrics_chart": Chart(
                "metrics",
                "Recommenders, holdout period",
                {
                    "metrics": {
                        name: {m: values[m] for m in (f"recall_at_{k}", metric, "coverage")}
                        for name, values in evaluation.items()
                    }
                },
                "candidates.png",
            )
        },
    )


def score_customers(saved: dict, frames: Mapping[str, pd.DataFrame], k: int) -> ScoreResult:
    """`RecommenderModel.score` (ml/models.py): the top k products per customer."""
    customers = frames["customer_features"]["customer_id"].sort_values().tolist()
    recs = saved["model"].recommend(customers, k)
    scores = recs[["customer_id", "rank", "product_id", "score", "model"]]
    by_model = scores["model"].value_counts()
    return ScoreResult(
        scores,
        details={
            "rows_by_model": {k: int(v) for k, v in by_model.items()},
            "distinct_products_recommended": int(scores["product_id"].nunique()),
        },
    )
