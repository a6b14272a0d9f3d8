"""Trusted model files (ml/registry.py): version ids of a fixed pattern resolved only inside the
model's folder, and a SHA-256 of model.joblib recorded at save time and checked before every load
and promotion. Milliseconds each: tmp_path and tiny models, no pipeline."""

import json
import os
import re

import duckdb
import joblib
import pytest
from sklearn.linear_model import LogisticRegression

from ml.registry import (
    DIGEST_KEY,
    PROMOTED,
    VERSION_PATTERN,
    UntrustedModelError,
    file_sha256,
    load_version,
    new_version,
    promote,
    promoted_model,
    require_promoted_model,
    save_model,
)
from orchestration.lib.model_runs import COLUMNS, TARGET, record_model_run


def _tiny_estimator() -> LogisticRegression:
    return LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])


def _tamper(path) -> None:
    """Change the bytes of a saved model file, keeping its size."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_round_trip_records_the_digest_and_loads_the_promoted_version(tmp_path):
    model = _tiny_estimator()
    saved = save_model(tmp_path, "churn", model, {"note": "first"})
    assert VERSION_PATTERN.fullmatch(saved.version) and VERSION_PATTERN.fullmatch(new_version())
    metadata = json.loads((saved.path / "metadata.json").read_text())
    assert metadata[DIGEST_KEY] == saved.sha256 == file_sha256(saved.path / "model.joblib")
    assert re.fullmatch(r"[0-9a-f]{64}", saved.sha256)
    promote(saved)
    assert (tmp_path / "churn" / PROMOTED).read_text().strip() == saved.version
    in_use = require_promoted_model(tmp_path, "churn")
    assert in_use.version == saved.version and in_use.sha256 == saved.sha256
    assert in_use.verify() == saved.sha256
    loaded = in_use.load()
    assert (loaded.predict_proba([[0.5], [2.5]]) == model.predict_proba([[0.5], [2.5]])).all()
    assert load_version(tmp_path, "churn", saved.version).load().coef_ == pytest.approx(model.coef_)


def test_digest_is_recorded_with_the_model_run(tmp_path):
    saved = save_model(tmp_path, "churn", {"w": 1}, {})
    with duckdb.connect() as conn:
        record_model_run(
            conn, {"model": "churn", "version": saved.version, "model_sha256": saved.sha256}
        )
        assert conn.execute(f"select model_sha256 from {TARGET}").fetchall() == [(saved.sha256,)]
    assert COLUMNS["model_sha256"] == "varchar"


def test_a_model_runs_table_from_before_the_digest_gets_the_column(tmp_path):
    with duckdb.connect() as conn:
        conn.execute("create schema scores")
        conn.execute(f"create table {TARGET} (model varchar, version varchar)")
        conn.execute(f"insert into {TARGET} values ('churn', 'old')")
        record_model_run(conn, {"model": "churn", "version": "new", "model_sha256": "ab" * 32})
        rows = conn.execute(f"select version, model_sha256 from {TARGET} order by 1").fetchall()
    assert rows == [("new", "ab" * 32), ("old", None)]


@pytest.mark.parametrize(
    "pointer", ["../../../tmp/evil", "/tmp/evil", "..", "20261201T200000123456Z/../../x"]
)
def test_a_pointer_outside_the_model_folder_is_refused(tmp_path, pointer):
    evil = tmp_path / "tmp" / "evil"
    evil.mkdir(parents=True)
    joblib.dump({"evil": True}, evil / "model.joblib")
    (evil / "metadata.json").write_text(json.dumps({"name": "churn", "version": pointer}))
    root = tmp_path / "models" / "a" / "b"
    (root / "churn").mkdir(parents=True)
    (root / "churn" / PROMOTED).write_text(pointer + "\n")
    with pytest.raises(UntrustedModelError) as error:
        promoted_model(root, "churn")
    message = str(error.value)
    assert str(root / "churn" / PROMOTED) in message  # the pointer file
    assert repr(pointer) in message  # the value found
    assert "20261201T200000123456Z" in message and str(root / "churn") in message  # expected


def test_a_version_folder_linked_outside_the_model_folder_is_refused(tmp_path):
    outside = save_model(tmp_path / "elsewhere", "churn", {"evil": True}, {})
    (tmp_path / "models" / "churn").mkdir(parents=True)
    (tmp_path / "models" / "churn" / outside.version).symlink_to(outside.path)
    (tmp_path / "models" / "churn" / PROMOTED).write_text(outside.version)
    with pytest.raises(UntrustedModelError, match="outside") as error:
        promoted_model(tmp_path / "models", "churn")
    assert str(outside.path) in str(error.value) and PROMOTED in str(error.value)


def test_a_model_file_linked_outside_its_version_folder_is_refused(tmp_path):
    outside = save_model(tmp_path / "elsewhere", "churn", {"evil": True}, {})
    saved = save_model(tmp_path / "models", "churn", {"evil": True}, {})
    (saved.path / "model.joblib").unlink()
    (saved.path / "model.joblib").symlink_to(outside.path / "model.joblib")
    with pytest.raises(UntrustedModelError, match="outside"):
        saved.load()


@pytest.mark.parametrize(
    "version",
    ["latest", "2026-12-01", "20261201T200000123456", "20261201T200000123456Z\nx", "", " "],
)
def test_a_malformed_version_is_refused(tmp_path, version):
    save_model(tmp_path, "churn", {"v": 1}, {})
    (tmp_path / "churn" / PROMOTED).write_text(version)
    with pytest.raises(UntrustedModelError, match="is not a version id; expected"):
        promoted_model(tmp_path, "churn")
    with pytest.raises(UntrustedModelError, match=re.escape(VERSION_PATTERN.pattern)):
        load_version(tmp_path, "churn", version or "x/y")


@pytest.mark.parametrize("name", ["../churn", "churn/x", "", "1churn", "churn ", "chürn"])
def test_a_model_name_must_be_a_plain_identifier(tmp_path, name):
    with pytest.raises(UntrustedModelError, match="expected a plain identifier"):
        save_model(tmp_path, name, {"v": 1}, {})
    with pytest.raises(UntrustedModelError, match="expected a plain identifier"):
        promoted_model(tmp_path, name)


def test_a_tampered_model_file_is_refused_on_load_with_both_digests(tmp_path):
    saved = save_model(tmp_path, "churn", _tiny_estimator(), {})
    promote(saved)
    model_file = saved.path / "model.joblib"
    _tamper(model_file)
    found = file_sha256(model_file)
    in_use = require_promoted_model(tmp_path, "churn")
    for attempt in (in_use.load, in_use.verify):
        with pytest.raises(UntrustedModelError) as error:
            attempt()
        message = str(error.value)
        assert str(model_file) in message
        assert saved.sha256 in message and found in message and found != saved.sha256


def test_a_replaced_model_file_is_refused_even_if_it_unpickles(tmp_path):
    saved = save_model(tmp_path, "churn", {"v": 1}, {})
    joblib.dump({"v": "someone else's"}, saved.path / "model.joblib")
    with pytest.raises(UntrustedModelError, match="does not match"):
        load_version(tmp_path, "churn", saved.version).load()


def test_a_version_saved_before_digests_is_refused_with_a_retrain_message(tmp_path):
    saved = save_model(tmp_path, "churn", {"v": 1}, {})
    promote(saved)
    metadata_file = saved.path / "metadata.json"
    legacy = {k: v for k, v in json.loads(metadata_file.read_text()).items() if k != DIGEST_KEY}
    metadata_file.write_text(json.dumps(legacy))
    in_use = require_promoted_model(tmp_path, "churn")
    assert in_use.sha256 is None
    with pytest.raises(UntrustedModelError) as error:
        in_use.load()
    message = str(error.value)
    assert str(metadata_file) in message and DIGEST_KEY in message
    assert "Retrain" in message and "models/churn" in message and PROMOTED in message
    with pytest.raises(UntrustedModelError, match="Retrain"):
        promote(in_use)


def test_metadata_naming_another_version_is_refused(tmp_path):
    first = save_model(tmp_path, "churn", {"v": 1}, {})
    second = save_model(tmp_path, "churn", {"v": 2}, {})
    metadata = json.loads((first.path / "metadata.json").read_text())
    (second.path / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(UntrustedModelError, match="expected name 'churn' and version"):
        load_version(tmp_path, "churn", second.version)


def test_promote_refuses_an_unverifiable_version_and_keeps_the_last_good_one(tmp_path):
    good = save_model(tmp_path, "churn", {"v": 1}, {})
    promote(good)
    pointer = tmp_path / "churn" / PROMOTED
    before = pointer.read_bytes()
    candidate = save_model(tmp_path, "churn", {"v": 2}, {})
    _tamper(candidate.path / "model.joblib")
    with pytest.raises(UntrustedModelError, match="does not match"):
        promote(candidate)
    # Metadata rewritten to match the tampered file: the digest computed at save time differs.
    metadata_file = candidate.path / "metadata.json"
    metadata = json.loads(metadata_file.read_text())
    metadata[DIGEST_KEY] = file_sha256(candidate.path / "model.joblib")
    metadata_file.write_text(json.dumps(metadata))
    with pytest.raises(UntrustedModelError, match="not promoted"):
        promote(candidate)
    assert pointer.read_bytes() == before
    assert not pointer.with_suffix(".tmp").exists()
    assert require_promoted_model(tmp_path, "churn").load() == {"v": 1}


def test_a_tampered_promoted_version_fails_without_falling_back(tmp_path):
    """Scoring (and the gate's comparison with the model in use) load the promoted version: a
    mismatch raises; an older good version is not used in its place."""
    older = save_model(tmp_path, "churn", {"v": 1}, {})
    promote(older)
    newer = save_model(tmp_path, "churn", {"v": 2}, {})
    promote(newer)
    _tamper(newer.path / "model.joblib")
    with pytest.raises(UntrustedModelError, match=newer.version):
        require_promoted_model(tmp_path, "churn").load()
    assert (tmp_path / "churn" / PROMOTED).read_text().strip() == newer.version
    assert os.path.exists(older.path / "model.joblib")  # untouched, and not chosen silently
