"""Churn risk: will a customer who has ordered place no order in the next H days?

Training rows are customer feature snapshots at cutoffs H days apart, with labels from the
following H days (both built in dbt, so a snapshot never sees anything after its cutoff).

Evaluation is a rolling-origin backtest: for every labelled cutoff after the first, the models
are fitted on the earlier cutoffs only and scored on that cutoff. The latest fold is the holdout
the promotion gate uses. Three models are compared on the same folds:

- gradient boosting (HistGradientBoosting) with isotonic calibration, the model we ship, on
  every feature plus what a "buy till you die" model knows about each customer (`BTYDFeatures`:
  MBG/NBD's P(alive) and expected orders over the horizon, fitted on the training rows only);
- recency alone (logistic regression on log recency), the rule it replaces;
- logistic regression on recency, frequency and monetary value (the classic RFM model).

Each customer in the high and medium risk tiers gets its top reasons with the score: the features
whose value, replaced by the population median, would lower that customer's churn probability the
most.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from ml.base import CannotTrain, Chart, ScoreResult, TrainResult, day
from ml.btyd import ModifiedBetaGeoModel
from ml.churn_reasons import explain
from ml.clv import repeat_and_recency
from ml.models import ChurnRiskModel  # noqa: F401  (declared there, importable here)
from ml.sampling import bounded_sample

# Columns that identify a row or its snapshot rather than describe the customer.
NON_FEATURES = {
    "customer_id",
    "as_of_date",
    "snapshot_index",
    "churned",
    "orders_in_horizon",
    "revenue_in_horizon",
    "horizon_days",
    "horizon_end_date",
}

MODEL = "gradient boosting"
RECENCY_BASELINE = "recency only"
RFM_BASELINE = "logistic RFM"
BASELINES = (RECENCY_BASELINE, RFM_BASELINE)
RFM_FEATURES = ("recency_days", "frequency", "monetary")

RISK_TIERS = ("high", "medium", "low")
EXPLAINED_FEATURES = 10  # reasons are drawn from the most important features
# Isotonic calibration is fitted only with at least this many held-back rows of each outcome.
MIN_CALIBRATION_ROWS_PER_CLASS = 20
# Each fit sees at most this many training rows (customer snapshots): a fixed sample beyond it,
# so training time stops growing with the shop (README "Performance" has the metric sampled
# against every row). Evaluation always scores every held-out row.
MAX_TRAIN_ROWS = 400_000


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric feature columns of a customer feature table."""
    return [
        column
        for column in frame.columns
        if column not in NON_FEATURES and pd.api.types.is_numeric_dtype(frame[column])
    ]


class CalibratedBooster(ClassifierMixin, BaseEstimator):
    """Gradient boosting on the raw features (it handles missing values natively), fitted on
    most of the rows, with isotonic calibration fitted on the rest, so the probabilities can be
    read as probabilities. One boosting fit (CalibratedClassifierCV's folds would cost three)."""

    def __init__(self, calibration_share: float = 0.2, random_state: int = 0) -> None:
        self.calibration_share = calibration_share
        self.random_state = random_state

    def _booster(self, early_stopping: bool) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            learning_rate=0.05,
            max_iter=300,
            max_leaf_nodes=31,
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping=early_stopping,
            validation_fraction=0.15,
            n_iter_no_change=20,
            random_state=self.random_state,
        )

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> CalibratedBooster:
        y = np.asarray(y)
        smallest_class = int(np.bincount(y, minlength=2).min())
        if smallest_class * self.calibration_share < MIN_CALIBRATION_ROWS_PER_CLASS:
            # Too few rows of one outcome to hold some out for calibration (a small shop, an
            # early fold): boosting on every row, its probabilities left uncalibrated.
            self.calibrated_ = self._booster(early_stopping=False).fit(X, y)
            self.calibration_ = (
                f"none: {smallest_class} rows of the rarer outcome, calibration needs "
                f"{int(np.ceil(MIN_CALIBRATION_ROWS_PER_CLASS / self.calibration_share))}"
            )
        else:
            fit_rows, calibration_rows = train_test_split(
                np.arange(len(X)),
                test_size=self.calibration_share,
                stratify=y,
                random_state=self.random_state,
            )
            booster = self._booster(early_stopping=True).fit(X.iloc[fit_rows], y[fit_rows])
            self.calibrated_ = CalibratedClassifierCV(FrozenEstimator(booster), method="isotonic")
            self.calibrated_.fit(X.iloc[calibration_rows], y[calibration_rows])
            self.calibration_ = f"isotonic, on {len(calibration_rows)} held-back rows"
        self.classes_ = self.calibrated_.classes_
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.calibrated_.predict_proba(X)


# The columns BTYDFeatures reads (orders, days since the last and since the first order) and adds.
BTYD_INPUTS = ("frequency", "recency_days", "days_since_first_order")
BTYD_FEATURES = ("btyd_p_alive", "btyd_expected_orders")


class BTYDFeatures(TransformerMixin, BaseEstimator):
    """Adds MBG/NBD's view of each customer to the features: the probability they are still a
    customer (`btyd_p_alive`) and their expected orders over the churn horizon
    (`btyd_expected_orders`), from a model fitted on the training rows. MBG/NBD rather than
    BG/NBD because it lets one-order customers leave too (BG/NBD calls them alive for sure).
    Where the model cannot be fitted (no repeat buyer, say), the columns are not added and the
    booster goes on without them; `fitted_` says which happened."""

    def __init__(self, horizon_days: float = 90, max_fit_rows: int = 50_000, random_state: int = 0):
        self.horizon_days = horizon_days
        self.max_fit_rows = max_fit_rows
        self.random_state = random_state

    @staticmethod
    def _summary(X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Which rows are buyers with consistent dates, and their BTYD summary (0 elsewhere)."""
        orders = X["frequency"].to_numpy(dtype=float, na_value=0.0)
        age = X["days_since_first_order"].to_numpy(dtype=float, na_value=np.nan)
        since_last = X["recency_days"].to_numpy(dtype=float, na_value=np.nan)
        usable = (orders >= 1) & np.isfinite(age) & np.isfinite(since_last) & (age >= since_last)
        age, since_last = np.where(usable, age, 0.0), np.where(usable, since_last, 0.0)
        repeat, recency = repeat_and_recency(np.where(usable, orders, 1.0), age, since_last)
        return usable, repeat, recency, age

    def fit(self, X: pd.DataFrame, y: object = None) -> BTYDFeatures:
        missing = [column for column in BTYD_INPUTS if column not in X.columns]
        if missing:
            self.model_, self.fitted_ = None, f"none: no column {', '.join(missing)}"
            return self
        usable, repeat, recency, age = self._summary(X)
        rows = np.flatnonzero(usable)
        if len(rows) > self.max_fit_rows:
            rows = np.random.default_rng(self.random_state).choice(rows, self.max_fit_rows, False)
        try:
            self.model_ = ModifiedBetaGeoModel().fit(repeat[rows], recency[rows], age[rows])
            self.fitted_ = f"MBG/NBD on {len(rows):,} rows"
        except (ValueError, FloatingPointError) as error:
            self.model_, self.fitted_ = None, f"none: {error}"
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        if self.model_ is None:
            return X
        p_alive = np.full(len(X), np.nan)
        expected = np.full(len(X), np.nan)
        usable, repeat, recency, age = self._summary(X)
        if usable.any():
            p_alive[usable] = self.model_.p_alive(repeat[usable], recency[usable], age[usable])
            expected[usable] = self.model_.expected_purchases(
                self.horizon_days, repeat[usable], recency[usable], age[usable]
            )
        return X.assign(**dict(zip(BTYD_FEATURES, (p_alive, expected), strict=True)))


def build_churn_pipeline(random_state: int = 0, horizon_days: float = 90) -> Pipeline:
    return Pipeline(
        [
            ("btyd", BTYDFeatures(horizon_days=horizon_days, random_state=random_state)),
            ("model", CalibratedBooster(random_state=random_state)),
        ]
    )


def _log_features(frame: pd.DataFrame) -> np.ndarray:
    """Fill gaps with the column's worst case (no order yet = longest recency) and log-scale."""
    data = frame.astype("float64")
    return np.log1p(data.fillna(data.max()).fillna(0.0).clip(lower=0).to_numpy())


def build_baseline(columns: tuple[str, ...]) -> Pipeline:
    """Logistic regression on log-scaled columns: recency alone, or recency/frequency/monetary."""
    return make_pipeline(
        FunctionTransformer(_log_features), StandardScaler(), LogisticRegression(max_iter=1000)
    )


def lift_at(y_true: np.ndarray, score: np.ndarray, share: float = 0.1) -> float:
    """Churn rate among the top `share` by score, divided by the overall churn rate."""
    top = np.argsort(-score, kind="stable")[: max(1, int(round(share * len(score))))]
    return float(y_true[top].mean() / y_true.mean()) if y_true.mean() > 0 else float("nan")


def classification_metrics(y_true: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    return {
        "roc_auc": float(roc_auc_score(y_true, probability)),
        "pr_auc": float(average_precision_score(y_true, probability)),
        "brier": float(brier_score_loss(y_true, probability)),
        "lift_top_decile": lift_at(y_true, probability, 0.1),
    }


def risk_tier(
    probability: np.ndarray,
    high_share: float,
    medium_share: float,
    tiebreak: np.ndarray | None = None,
) -> np.ndarray:
    """Tiers by rank, so each is a list of a size a team can act on: the `high_share` of
    customers most likely to churn are "high", the next `medium_share` "medium", the rest "low".
    (Fixed probability bounds put most customers of a shop with high base churn in one tier.)
    Calibrated probabilities tie (isotonic calibration is a step function), so equal ones are
    ordered by `tiebreak` (higher first; e.g. days since the last order), then by position."""
    if min(high_share, medium_share) < 0 or high_share + medium_share > 1:
        raise ValueError(
            f"risk tier shares must be >= 0 and sum to at most 1, got high={high_share}, "
            f"medium={medium_share}"
        )
    probability = np.asarray(probability, dtype=float)
    n = len(probability)
    keys = [np.arange(n)]  # np.lexsort sorts by the last key first
    if tiebreak is not None:
        keys.append(-np.nan_to_num(np.asarray(tiebreak, dtype=float), nan=-np.inf))
    position = np.empty(n, dtype=np.int64)
    position[np.lexsort([*keys, -probability])] = np.arange(n)
    tiers = np.full(n, RISK_TIERS[-1], dtype=object)
    tiers[position < round((high_share + medium_share) * n)] = RISK_TIERS[1]
    tiers[position < round(high_share * n)] = RISK_TIERS[0]
    return tiers


@dataclass
class ChurnModel:
    """What a churn model version holds: the fitted pipeline and what it needs to score."""

    pipeline: Pipeline
    features: list[str]
    reference: pd.Series  # per-feature median of the training rows, for reasons
    explained: list[str]  # features reasons are drawn from, most important first

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.pipeline.predict_proba(frame[self.features])[:, 1]


def _candidates(
    features: list[str], horizon_days: float
) -> dict[str, tuple[Callable[[], Pipeline], list[str]]]:
    return {
        MODEL: (lambda: build_churn_pipeline(horizon_days=horizon_days), features),
        RECENCY_BASELINE: (lambda: build_baseline(("recency_days",)), ["recency_days"]),
        RFM_BASELINE: (lambda: build_baseline(RFM_FEATURES), list(RFM_FEATURES)),
    }


@dataclass
class ChurnTrainingResult:
    chosen: str  # MODEL, unless a baseline did better on the holdout fold
    model: ChurnModel  # the chosen one refitted on every labelled cutoff: the one that scores
    evaluation_model: ChurnModel  # fitted before the holdout cutoff: the gate compares it
    metrics: dict[str, dict[str, float]]  # every candidate on the holdout (latest) fold
    backtest: pd.DataFrame  # one row per fold and model: cutoff, train rows, metrics
    holdout: pd.DataFrame  # holdout rows: customer_id, churned, one probability column per model
    train_cutoffs: list[str]
    holdout_cutoff: str
    train_rows: int  # the holdout fold's training rows (a sample beyond max_train_rows)
    train_rows_available: int  # ... before sampling
    holdout_rows: int
    churn_rate_holdout: float
    importance: dict[str, float] = field(default_factory=dict)


def train_churn_model(
    labelled: pd.DataFrame, max_train_rows: int | None = MAX_TRAIN_ROWS
) -> ChurnTrainingResult:
    """Backtest the candidates over rolling cutoffs, choose the best ROC AUC on the latest fold
    (gradient boosting on a tie), then refit the chosen one on every cutoff. Every fit sees at
    most `max_train_rows` rows (`bounded_sample`; None: all).

    A baseline is chosen only where the data cannot support more (a bare transactions file,
    say): it is then what scores, and the metadata says so.

    `labelled` holds feature snapshots joined with their `churned` label and `as_of_date`.
    """
    cutoffs = sorted(labelled["as_of_date"].unique())
    if len(cutoffs) < 2:
        raise CannotTrain(
            f"Churn needs at least two labelled cutoffs (train and held-out), got {len(cutoffs)}: "
            "raise models.feature_snapshots or provide a longer history"
        )
    # A feature with no value in the first training fold (no browsing data, say) carries
    # nothing, and HistGradientBoosting's binning fails on an all-missing column: leave it out.
    first_train = labelled[labelled["as_of_date"] < cutoffs[1]]
    features = [c for c in feature_columns(labelled) if first_train[c].notna().any()]

    # The horizon the labels were counted over (dbt's churn_horizon_days) sets BTYD's horizon.
    horizon = labelled["horizon_days"].iloc[0] if "horizon_days" in labelled.columns else 90
    candidates = _candidates(features, float(horizon))
    fold_rows, holdout_frame, fitted_last_fold, folds = [], None, {}, []
    for cutoff in cutoffs[1:]:
        earlier = labelled[labelled["as_of_date"] < cutoff]
        test = labelled[labelled["as_of_date"] == cutoff]
        if earlier["churned"].nunique() < 2 or test["churned"].nunique() < 2:
            continue  # a fold without churners or without stayers cannot fit or be scored
        train = bounded_sample(earlier, max_train_rows)
        folds.append(cutoff)
        y_test = test["churned"].astype(int).to_numpy()
        predictions = {"customer_id": test["customer_id"].to_numpy(), "churned": y_test}
        for name, (build, columns) in candidates.items():
            fitted = build().fit(train[columns], train["churned"].astype(int))
            predictions[name] = fitted.predict_proba(test[columns])[:, 1]
            fitted_last_fold[name] = ChurnModel(fitted, columns, train[columns].median(), columns)
            fold_rows.append(
                {
                    "cutoff": str(pd.Timestamp(cutoff).date()),
                    "model": name,
                    "train_rows": len(train),
                    "train_rows_available": len(earlier),
                    "test_rows": len(test),
                    "churn_rate": float(y_test.mean()),
                    **classification_metrics(y_test, predictions[name]),
                }
            )
        holdout_frame, holdout_rows = pd.DataFrame(predictions), test
        holdout_train, holdout_available = train, len(earlier)

    if not folds:
        raise CannotTrain(
            f"none of the {len(cutoffs) - 1} backtest fold(s) has both churners and stayers in "
            "its training and held-out rows; provide more customers or a longer history"
        )
    backtest = pd.DataFrame(fold_rows)
    latest = backtest[backtest["cutoff"] == backtest["cutoff"].max()].set_index("model")
    metric_names = list(classification_metrics(np.array([0, 1]), np.array([0.2, 0.8])))
    by_model = {
        name: latest.loc[name, metric_names].astype(float).to_dict() for name in latest.index
    }

    chosen = max(by_model, key=lambda name: (by_model[name]["roc_auc"], name == MODEL))
    build, columns = candidates[chosen]
    evaluation = fitted_last_fold[chosen]  # fitted before the holdout cutoff
    importance = permutation_importance(
        evaluation.pipeline,
        holdout_rows[columns],
        holdout_rows["churned"].astype(int),
        scoring="roc_auc",
        n_repeats=2,
        random_state=0,
        max_samples=min(len(holdout_rows), 3000),
    ).importances_mean
    ranked = sorted(zip(columns, importance, strict=True), key=lambda pair: -pair[1])
    explained = [name for name, value in ranked if value > 0][:EXPLAINED_FEATURES]
    evaluation.explained = explained
    final_rows = bounded_sample(labelled, max_train_rows)
    final = ChurnModel(
        build().fit(final_rows[columns], final_rows["churned"].astype(int)),
        columns,
        final_rows[columns].median(),
        explained,
    )
    return ChurnTrainingResult(
        chosen=chosen,
        model=final,
        evaluation_model=evaluation,
        metrics={chosen: by_model[chosen]} | by_model,
        backtest=backtest,
        holdout=holdout_frame,
        train_cutoffs=[str(pd.Timestamp(c).date()) for c in cutoffs if c < folds[-1]],
        holdout_cutoff=str(pd.Timestamp(folds[-1]).date()),
        train_rows=len(holdout_train),
        train_rows_available=holdout_available,
        holdout_rows=len(holdout_rows),
        churn_rate_holdout=float(holdout_rows["churned"].mean()),
        importance={name: round(float(value), 4) for name, value in ranked},
    )


def score_churn(
    model: ChurnModel, current: pd.DataFrame, high_share: float = 0.1, medium_share: float = 0.2
) -> pd.DataFrame:
    """Churn probability and risk tier for customers with at least one order, and the top reasons
    for those in the high and medium tiers (none for the low tier)."""
    buyers = current[current["frequency"] > 0].reset_index(drop=True)
    probability = model.predict_proba(buyers)
    tiers = risk_tier(probability, high_share, medium_share, buyers["recency_days"].to_numpy())
    # Reasons for the tiers someone acts on (retention lists, audiences): each explained feature
    # scores them again, so explaining the low tier too (70% of buyers by default) would cost
    # three times as much.
    at_risk = tiers != RISK_TIERS[-1]
    reasons = explain(model, buyers[at_risk], base=probability[at_risk]).reindex(buyers.index)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "customer_id": buyers["customer_id"].to_numpy(),
                    "churn_probability": probability,
                    "risk_tier": tiers,
                    "recency_days": buyers["recency_days"].to_numpy(),
                    "as_of_date": buyers["as_of_date"].to_numpy(),
                }
            ),
            reasons.astype(object).where(reasons.notna(), None),
        ],
        axis=1,
    )


def fit_and_evaluate(frames: Mapping[str, pd.DataFrame], current: Any | None) -> TrainResult:
    """`ChurnRiskModel.train` (ml/models.py): `train_churn_model` on the labelled snapshots, the
    latest fold as the gate's holdout, where the model in use (`current`) is measured too."""
    labelled = frames["churn_training_set"]
    result = train_churn_model(labelled)
    holdout_rows = labelled[labelled["as_of_date"] == pd.Timestamp(result.holdout_cutoff)]
    current_metrics, details = None, {}
    if current is not None:
        previous: ChurnModel = current["evaluation_model"]
        if set(previous.features) <= set(holdout_rows.columns):
            current_metrics = classification_metrics(
                holdout_rows["churned"].astype(int).to_numpy(),
                previous.predict_proba(holdout_rows),
            )
        else:
            details["current_model"] = "needs features that no longer exist: not compared"
    holdout, models = result.holdout, [MODEL, *BASELINES]
    curves = {"y_true": holdout["churned"], "scores": {m: holdout[m] for m in models}}
    return TrainResult(
        model={"model": result.model, "evaluation_model": result.evaluation_model},
        metric="roc_auc",
        higher_is_better=True,
        metrics=result.metrics,  # the chosen model first
        baselines=[name for name in BASELINES if name != result.chosen],
        current_metrics=current_metrics,
        train_window=(result.train_cutoffs[0], result.train_cutoffs[-1]),
        holdout_window=(result.holdout_cutoff, day(holdout_rows["horizon_end_date"].max())),
        version_metadata={
            "features": result.model.features,
            "explained": result.model.explained,
        },
        details={
            **details,
            "chosen_model": result.chosen,
            "selection": "highest ROC AUC on the holdout fold (gradient boosting on a tie)",
            "backtest_folds": int(result.backtest["cutoff"].nunique()),
            "train_rows": result.train_rows,
            "train_rows_available": result.train_rows_available,
            "holdout_rows": result.holdout_rows,
            "holdout_churn_rate": round(result.churn_rate_holdout, 4),
            "calibration": getattr(
                result.model.pipeline[-1], "calibration_", "a logistic baseline: as fitted"
            ),
            "btyd_features": getattr(
                result.model.pipeline.named_steps.get("btyd"), "fitted_", "not used"
            ),
            "feature_importance": dict(list(result.importance.items())[:15]),
        },
        tables={"backtest": result.backtest.set_index(["cutoff", "model"])},
        charts={
            "lift_chart": Chart("lift", "Churn lift, holdout", curves, "lift.png"),
            "calibration_chart": Chart(
                "calibration", "Churn calibration, holdout", curves, "calibration.png"
            ),
            "metrics_chart": Chart(
                "metrics",
                "Churn, holdout fold",
                {
                    "metrics": {
                        m: {k: v for k, v in values.items() if k != "lift_top_decile"}
                        for m, values in result.metrics.items()
                    }
                },
                "metrics.png",
            ),
        },
    )


def score_customers(
    saved: dict, frames: Mapping[str, pd.DataFrame], high_share: float, medium_share: float
) -> ScoreResult:
    """`ChurnRiskModel.score` (ml/models.py): every buyer's probability, tier and reasons."""
    scores = score_churn(saved["model"], frames["customer_features"], high_share, medium_share)
    tiers = scores["risk_tier"].value_counts().reindex(list(RISK_TIERS), fill_value=0)
    return ScoreResult(
        scores,
        details={
            "mean_churn_probability": round(float(scores["churn_probability"].mean()), 4),
            "risk_tiers": {k: int(v) for k, v in tiers.items()},
        },
        charts={
            "risk_tier_chart": Chart(
                "bar",
                "Customers per churn risk tier",
                {"values": tiers, "xlabel": "customers"},
                "risk_tiers.png",
            )
        },
    )
