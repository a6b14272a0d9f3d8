"""Versioned model files and the promotion gate.

Each training run saves `<root>/<name>/<version>/model.joblib` with a `metadata.json` beside it.
A version only scores once it is promoted: `<root>/<name>/PROMOTED` names the current one. The
gate promotes a new version when, on the same holdout, it beats every baseline and is not worse
than the current version by more than a small tolerance.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

PROMOTED = "PROMOTED"
# Retraining on nearly the same data moves a metric by noise; a drop within this share of the
# current value is not a reason to keep an older model.
GATE_TOLERANCE = 0.01


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    path: Path
    metadata: dict[str, Any]

    def load(self) -> Any:
        return joblib.load(self.path / "model.joblib")


def new_version() -> str:
    """A sortable version id: the UTC training time to the microsecond."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def save_model(root: Path, name: str, model: Any, metadata: dict[str, Any]) -> ModelVersion:
    """Write a model and its metadata under a new version directory; return the version."""
    version = new_version()
    path = root / name / version
    path.mkdir(parents=True, exist_ok=False)
    joblib.dump(model, path / "model.joblib")
    full_metadata = {"name": name, "version": version, **metadata}
    (path / "metadata.json").write_text(json.dumps(full_metadata, indent=2, default=str))
    return ModelVersion(name, version, path, full_metadata)


def _version(root: Path, name: str, version: str) -> ModelVersion:
    path = root / name / version
    return ModelVersion(name, version, path, json.loads((path / "metadata.json").read_text()))


def promoted_model(root: Path, name: str) -> ModelVersion | None:
    """The version that scores, or None before any version passed the gate."""
    pointer = root / name / PROMOTED
    if not pointer.exists():
        return None
    return _version(root, name, pointer.read_text().strip())


def require_promoted_model(root: Path, name: str) -> ModelVersion:
    """The promoted version; raises FileNotFoundError naming the folder if there is none."""
    version = promoted_model(root, name)
    if version is None:
        raise FileNotFoundError(
            f"No promoted '{name}' model in {root / name}: materialize its training asset, "
            "and see its promotion gate check if it ran"
        )
    return version


def promote(version: ModelVersion) -> None:
    """Make `version` the one that scores (atomic: a reader sees the old or the new pointer)."""
    pointer = version.path.parent / PROMOTED
    staging = pointer.with_suffix(".tmp")
    staging.write_text(version.version + "\n")
    os.replace(staging, pointer)


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    reason: str


def gate_decision(
    metric: str,
    candidate: float,
    baselines: dict[str, float],
    current: float | None,
    higher_is_better: bool = True,
    tolerance: float = GATE_TOLERANCE,
) -> GateDecision:
    """Promote the candidate if it beats every baseline and is not worse than the current model
    (measured on the same holdout) by more than `tolerance` of the current value."""
    sign = 1.0 if higher_is_better else -1.0
    better = "higher" if higher_is_better else "lower"
    for name, value in baselines.items():
        if not sign * (candidate - value) > 0:
            return GateDecision(
                False,
                f"{metric} {candidate:.4f} does not beat the {name} baseline ({value:.4f}; "
                f"{better} is better)",
            )
    if current is not None and sign * (candidate - current) < -tolerance * abs(current):
        return GateDecision(
            False,
            f"{metric} {candidate:.4f} is worse than the current model's {current:.4f} on the "
            f"same holdout ({better} is better, tolerance {tolerance:.0%})",
        )
    if current is None:
        against = " (no model in use yet)"
    elif sign * (candidate - current) >= 0:
        against = f" and matches or beats the model in use ({current:.4f})"
    else:
        against = f" and is within {tolerance:.0%} of the model in use ({current:.4f})"
    return GateDecision(True, f"{metric} {candidate:.4f} beats every baseline{against}")
