"""Versioned model files: `<root>/<name>/<version>/model.joblib` with a `metadata.json` beside it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib


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


def latest_model(root: Path, name: str) -> ModelVersion:
    """The newest saved version of a model; raises FileNotFoundError naming the folder if none."""
    folder = root / name
    versions = sorted(p for p in folder.glob("*/model.joblib")) if folder.exists() else []
    if not versions:
        raise FileNotFoundError(
            f"No trained '{name}' model in {folder}: materialize its training asset first"
        )
    path = versions[-1].parent
    return ModelVersion(name, path.name, path, json.loads((path / "metadata.json").read_text()))
