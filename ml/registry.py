"""Versioned model files and the promotion gate.

Each training run saves `<root>/<name>/<version>/model.joblib` with a `metadata.json` beside it.
A version only scores once it is promoted: `<root>/<name>/PROMOTED` names the current one. The
gate promotes a new version when, on the same holdout, it beats every baseline and is not worse
than the current version by more than a small tolerance.

Model files are not trusted blindly (unpickling runs code): a model name is a plain identifier, a
version id matches VERSION_PATTERN (the UTC training time) and must resolve inside
`<root>/<name>/`, and `metadata.json` records the SHA-256 of `model.joblib` at save time. Loading
and promoting recompute that digest and raise UntrustedModelError on any mismatch; nothing falls
back to another version. The digest catches a file changed or replaced after it was saved; it
does not stop someone who can rewrite both files of a version (see the README, Reliability).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

PROMOTED = "PROMOTED"
MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
DIGEST_KEY = "model_sha256"  # in metadata.json and as a column of scores.model_runs
# new_version()'s format: the UTC training time to the microsecond, e.g. 20261201T200000123456Z.
VERSION_FORMAT = "%Y%m%dT%H%M%S%fZ"
VERSION_PATTERN = re.compile(r"[0-9]{8}T[0-9]{12}Z")
VERSION_EXAMPLE = "20261201T200000123456Z"
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20
# Retraining on nearly the same data moves a metric by noise; a drop within this share of the
# current value is not a reason to keep an older model.
GATE_TOLERANCE = 0.01


class UntrustedModelError(Exception):
    """A model name, version id, pointer or file that cannot be trusted: never loaded, never
    promoted, and never replaced silently by another version."""


def _shown(value: str, limit: int = 80) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _sha256(handle: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """The SHA-256 (hex) of a file's bytes."""
    with path.open("rb") as handle:
        return _sha256(handle)


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    path: Path
    metadata: dict[str, Any]

    @property
    def model_file(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def sha256(self) -> str | None:
        """The SHA-256 of model.joblib recorded at save time (None for a version saved before
        digests were recorded; such a version is refused by load and promote)."""
        return self.metadata.get(DIGEST_KEY)

    def _expected_sha256(self) -> str:
        expected = self.sha256
        if expected is None:
            raise UntrustedModelError(
                f"{self.path / METADATA_FILE}: no '{DIGEST_KEY}' (the SHA-256 of {MODEL_FILE}): "
                f"version {self.version} of '{self.name}' was saved before model files carried a "
                "digest, so its file cannot be verified and is not loaded. Retrain it: remove "
                f"{self.path.parent / PROMOTED} if it names this version, then materialize the "
                f"training asset models/{self.name}"
            )
        if not isinstance(expected, str) or not _SHA256_PATTERN.fullmatch(expected):
            raise UntrustedModelError(
                f"{self.path / METADATA_FILE}: '{DIGEST_KEY}' is {_shown(str(expected))}, "
                "expected 64 lowercase hex digits (a SHA-256)"
            )
        return expected

    def _check(self, found: str) -> None:
        expected = self._expected_sha256()
        if found != expected:
            raise UntrustedModelError(
                f"{self.model_file}: SHA-256 {found} does not match {expected} recorded in "
                f"{self.path / METADATA_FILE} when version {self.version} of '{self.name}' was "
                "saved: the file changed after it was saved (corrupted or tampered with). It is "
                "not loaded and no other version is used in its place; investigate, then retrain "
                f"(materialize models/{self.name})"
            )

    def verify(self) -> str:
        """Recompute model.joblib's SHA-256 and compare it with the recorded one; return it.
        Raises UntrustedModelError naming the file and both digests on a mismatch."""
        self._expected_sha256()
        found = file_sha256(_inside(self.model_file, self.path, f"{self.name} {self.version}"))
        self._check(found)
        return found

    def load(self) -> Any:
        """The model, after its file's SHA-256 matched the recorded one (the bytes hashed are the
        bytes unpickled: one open file). Raises UntrustedModelError otherwise."""
        import joblib  # here, not at the top: the Dagster code location imports this module

        self._expected_sha256()
        model_file = _inside(self.model_file, self.path, f"{self.name} {self.version}")
        with model_file.open("rb") as handle:
            self._check(_sha256(handle))
            handle.seek(0)
            return joblib.load(handle)


def new_version() -> str:
    """A sortable version id: the UTC training time to the microsecond."""
    return datetime.now(UTC).strftime(VERSION_FORMAT)


def version_time(version: str) -> datetime:
    """When a version was trained (UTC, naive), read from its id."""
    return datetime.strptime(version, VERSION_FORMAT)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise UntrustedModelError(
            f"model name {_shown(str(name))}: expected a plain identifier "
            f"(letters, digits and _, not starting with a digit; pattern {NAME_PATTERN.pattern})"
        )
    return name


def _inside(path: Path, folder: Path, what: str) -> Path:
    """`path` resolved (symlinks followed); raises unless it lies inside `folder` (resolved)."""
    resolved, base = path.resolve(), folder.resolve()
    if not resolved.is_relative_to(base) or resolved == base:
        raise UntrustedModelError(
            f"{what}: {path} resolves to {resolved}, outside {base}; expected a path inside {base}"
        )
    return resolved


def _resolve(root: Path, name: str, version: str, source: str) -> Path:
    """The folder of `version` of model `name`, checked: `source` says where the id came from."""
    _check_name(name)
    if not isinstance(version, str) or not VERSION_PATTERN.fullmatch(version):
        raise UntrustedModelError(
            f"{source}: version {_shown(str(version))} is not a version id; expected the UTC "
            f"training time like {VERSION_EXAMPLE} (pattern {VERSION_PATTERN.pattern}) naming a "
            f"folder inside {root / name}"
        )
    folder = root / name
    path = folder / version
    _inside(path, folder, f"{source}: version {version!r}")
    return path


def save_model(root: Path, name: str, model: Any, metadata: dict[str, Any]) -> ModelVersion:
    """Write a model and its metadata (with the model file's SHA-256) under a new version
    directory; return the version."""
    import joblib

    _check_name(name)
    version = new_version()
    path = _resolve(root, name, version, f"new version of '{name}'")
    path.mkdir(parents=True, exist_ok=False)
    joblib.dump(model, path / MODEL_FILE)
    full_metadata = {
        "name": name,
        "version": version,
        **metadata,
        DIGEST_KEY: file_sha256(path / MODEL_FILE),
    }
    # Written last: a version folder without metadata.json is incomplete and never loads.
    (path / METADATA_FILE).write_text(json.dumps(full_metadata, indent=2, default=str))
    return ModelVersion(name, version, path, full_metadata)


def _version(root: Path, name: str, version: str, source: str | None = None) -> ModelVersion:
    path = _resolve(root, name, version, source or f"model '{name}'")
    metadata_file = path / METADATA_FILE
    try:
        metadata = json.loads(metadata_file.read_text())
    except json.JSONDecodeError as error:
        raise UntrustedModelError(f"{metadata_file}: not valid JSON ({error})") from error
    if not isinstance(metadata, dict) or (metadata.get("name"), metadata.get("version")) != (
        name,
        version,
    ):
        found = (
            (metadata.get("name"), metadata.get("version"))
            if isinstance(metadata, dict)
            else metadata
        )
        raise UntrustedModelError(
            f"{metadata_file}: names {_shown(str(found))}, expected name {name!r} and version "
            f"{version!r} (the folder it is in)"
        )
    return ModelVersion(name, version, path, metadata)


def load_version(root: Path, name: str, version: str) -> ModelVersion:
    """A saved version by id (checked like a pointer; its file is verified when loaded)."""
    return _version(root, name, version)


def promoted_model(root: Path, name: str) -> ModelVersion | None:
    """The version that scores, or None before any version passed the gate. Raises
    UntrustedModelError if the pointer names anything but a version folder of this model."""
    pointer = root / _check_name(name) / PROMOTED
    if not pointer.exists():
        return None
    return _version(root, name, pointer.read_text(errors="replace").strip(), f"pointer {pointer}")


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
    """Make `version` the one that scores (atomic: a reader sees the old or the new pointer).

    The version is re-read from disk and its file verified first: a version whose file does not
    match its recorded SHA-256 raises UntrustedModelError and the pointer keeps the last good one."""
    root = version.path.parent.parent
    on_disk = _version(root, version.name, version.version, f"promoting {version.path}")
    if on_disk.path != version.path:
        raise UntrustedModelError(
            f"promoting {version.path}: expected the folder {on_disk.path} "
            f"(<root>/{version.name}/{version.version}); not promoted"
        )
    if version.sha256 is not None and on_disk.sha256 != version.sha256:
        raise UntrustedModelError(
            f"{on_disk.path / METADATA_FILE}: '{DIGEST_KEY}' is {_shown(str(on_disk.sha256))}, "
            f"expected {version.sha256} (the digest computed when version {version.version} was "
            "saved); not promoted"
        )
    on_disk.verify()
    pointer = on_disk.path.parent / PROMOTED
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
