"""The surface every model in ml/ shares, in scikit-learn's spirit.

A model of the platform is a `CustomerModel`: hyperparameters in `__init__`, and three methods
that take and return plain DataFrames (no orchestrator, no warehouse):

- `skip_reason(readiness)`: why this deployment's data cannot support the model, or None;
- `train(frames, current)`: fit on the training frame, evaluate on the holdout beside the
  baselines and beside `current` (the saved model in use, or None), and return a `TrainResult`:
  what to save, the metrics table, the baselines, the windows and the data of its charts; or
  raise `CannotTrain` with the reason when the data turns out too thin to fit or measure it;
- `score(saved, frames)`: score a frame with a saved model, returning a `ScoreResult`.

`frames` maps the input names a model declares in `train_inputs` / `score_inputs` to frames;
the orchestration reads them from the warehouse tables of the same names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ml.registry import GateDecision, gate_decision

if TYPE_CHECKING:
    import pandas as pd

ChartKind = Literal["bar", "metrics", "lift", "calibration", "predicted_vs_actual"]


class CannotTrain(ValueError):
    """The data cannot support this model after all (raised by `train` with the reason): the
    model is skipped with that reason and the version in use, if any, keeps scoring."""


@dataclass(frozen=True)
class Chart:
    """The data of one chart; the orchestration draws it (`kind` names the drawing)."""

    kind: ChartKind
    title: str
    data: Mapping[str, Any]
    file: str  # file name in the model's report folder


@dataclass
class TrainResult:
    """A trained model with its evaluation on held-out data."""

    model: Any  # what is saved as the new version (what `score` receives)
    metric: str  # the gate's metric
    higher_is_better: bool
    metrics: dict[str, dict[str, float]]  # the candidate first, then the other rows
    baselines: list[str]  # rows of `metrics` the candidate must beat
    train_window: tuple[str, str]
    holdout_window: tuple[str, str]
    current_metrics: dict[str, float] | None = None  # the model in use, on the same holdout
    details: dict[str, Any] = field(default_factory=dict)  # shown beside the metrics
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # shown as tables
    charts: dict[str, Chart] = field(default_factory=dict)
    version_metadata: dict[str, Any] = field(default_factory=dict)  # saved with the version

    @property
    def candidate(self) -> str:
        return next(iter(self.metrics))

    @property
    def value(self) -> float:
        return self.metrics[self.candidate][self.metric]

    @property
    def baseline_values(self) -> dict[str, float]:
        return {name: self.metrics[name][self.metric] for name in self.baselines}

    @property
    def current_value(self) -> float | None:
        return self.current_metrics[self.metric] if self.current_metrics else None

    def best_baseline(self) -> tuple[str, float] | None:
        """The strongest baseline and its value; None when the candidate is itself a baseline."""
        values = self.baseline_values
        if not values:
            return None
        pick = max if self.higher_is_better else min
        name = pick(values, key=values.get)
        return name, values[name]

    def beats_baselines(self) -> bool:
        sign = 1.0 if self.higher_is_better else -1.0
        return all(sign * (self.value - b) > 0 for b in self.baseline_values.values())

    def gate(self) -> GateDecision:
        """Promote only if it beats every baseline and is not worse than the model in use."""
        return gate_decision(
            self.metric, self.value, self.baseline_values, self.current_value, self.higher_is_better
        )


@dataclass
class ScoreResult:
    """Scores for the scored table, with a summary and charts of them."""

    scores: pd.DataFrame
    details: dict[str, Any] = field(default_factory=dict)
    charts: dict[str, Chart] = field(default_factory=dict)


class CustomerModel(ABC):
    """One model of the platform: see the module docstring."""

    name: ClassVar[str]  # the model's name: its folder of versions and its asset key
    train_inputs: ClassVar[tuple[str, ...]]  # input frames `train` reads
    score_inputs: ClassVar[tuple[str, ...]]  # input frames `score` reads
    # True when a customer's scores depend only on the saved model and the customer, not on the
    # score inputs' other columns (a recommender scores from the purchases it was fitted on):
    # while the promoted version stays the same, a refresh scores only the customers of its one
    # score input without scores yet, and drops those no longer in it.
    scores_fixed_per_customer: ClassVar[bool] = False

    @abstractmethod
    def skip_reason(self, readiness: Mapping[str, Any]) -> str | None:
        """Why the data cannot support this model (None if it can); `readiness` holds counts."""

    @abstractmethod
    def train(self, frames: Mapping[str, pd.DataFrame], current: Any | None) -> TrainResult:
        """Fit, and evaluate on a holdout beside the baselines and the model in use."""

    @abstractmethod
    def score(self, saved: Any, frames: Mapping[str, pd.DataFrame]) -> ScoreResult:
        """Score with a saved model (what a `TrainResult.model` was)."""


def day(value: object) -> str:
    """A date as YYYY-MM-DD, from a date, a timestamp or a string."""
    import pandas as pd

    return pd.Timestamp(value).date().isoformat()
