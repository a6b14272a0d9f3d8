"""The shop gallery: `make run`'s whole pipeline on each of the simulator's archetypes (small
shops unlike the default one: one-time buyers, one product, no products, no browsing, three weeks
of history, a log that ended in 1998...), one process and one warehouse each.

    python -m orchestration.gallery [NAME ...] [--out DIR]      (make gallery)

prints, per archetype, the rows it generated, whether the run succeeded, and what each model did
(trained and which candidate was chosen, or skipped and why). tests/test_gallery.py runs the
same function on every archetype.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from orchestration.lib.dbt import dbt_project
from orchestration.lib.scores import exported_tables
from orchestration.settings import REPO_ROOT, SCORES_SCHEMA

_SKIPPED = re.compile(r"^  (\w+): skipped: (.*)$", re.MULTILINE)


@dataclass
class GalleryResult:
    archetype: str
    description: str
    rows: dict[str, int]  # generated rows per table (landing and truth)
    exit_code: int
    seconds: float
    models: dict[str, str] = field(default_factory=dict)  # model -> what happened
    table_rows: dict[str, int | None] = field(default_factory=dict)  # exported; None: missing
    output: str = ""


def write_shop(name: str, folder: Path) -> tuple[Path, dict[str, int]]:
    """Generate archetype `name` into `folder` and write the config that reads it."""
    from simulator import ARCHETYPES, generate

    shop = ARCHETYPES[name]
    rows = generate(shop, folder / "landing", folder / "truth", progress=False)
    landing = sorted(path.stem for path in (folder / "landing").glob("*.parquet"))
    sources = {table: {"path": f"landing/{table}.parquet"} for table in landing}
    config = {
        "name": f"gallery_{name}",
        "data_dir": ".",
        "timezone": "UTC",
        "currency": "EUR",
        "first_day": shop.start_date.isoformat(),
        "last_day": shop.end_date.isoformat(),  # the shop's log ends there
        "sources": sources,
    }
    path = folder / "config.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, rows


def run_make_run(config: Path, home: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    """`make run`'s command in a clean environment: the deployment `config`, and `home` as the
    home folder and the Dagster instance's parent; output captured. Its configs hold generated
    or test customers but no `synthetic:` block, so they get a salt of their own (a real
    deployment without one refuses to run: README, "Personal data")."""
    env = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "HOME": str(home),
        "SHOP_CONFIG": str(config),
        "DAGSTER_HOME": str(home / "dagster"),
        "PII_SALT": "gallery-and-test-shops",
    }
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_archetype(name: str, folder: Path) -> GalleryResult:
    """`make run`'s command on archetype `name`, in `folder` (its own warehouse and instance)."""
    from simulator import ARCHETYPE_DESCRIPTIONS

    folder.mkdir(parents=True, exist_ok=True)
    config, rows = write_shop(name, folder)
    started = time.perf_counter()
    done = run_make_run(config, folder)
    result = GalleryResult(
        name,
        ARCHETYPE_DESCRIPTIONS[name],
        rows,
        done.returncode,
        time.perf_counter() - started,
        output=done.stdout + done.stderr,
    )
    result.models = {model: f"skipped: {why}" for model, why in _SKIPPED.findall(done.stdout)}
    warehouse = folder / "warehouse.duckdb"
    if not warehouse.exists():
        return result
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        # The tables every run must leave behind, filled or (for a skipped model) empty.
        for table in exported_tables(dbt_project.manifest_path):
            try:
                count = conn.execute(f"select count(*) from {SCORES_SCHEMA}.{table}").fetchone()
                result.table_rows[table] = count[0]
            except duckdb.CatalogException:
                result.table_rows[table] = None
        try:
            runs = conn.execute(
                "select model, promoted, metric, value, metrics from scores.model_runs"
            ).fetchall()
        except duckdb.CatalogException:
            runs = []
    for model, promoted, metric, value, metrics in runs:
        chosen = next(iter(yaml.safe_load(metrics) or {"?": None}))
        verdict = "promoted" if promoted else "refused"
        result.models[model] = f"trained: {chosen}, {metric} {value:.3f}, {verdict}"
    return result


def _table(results: list[GalleryResult]) -> str:
    lines = [
        "| archetype | what sets it apart | order lines | run | time | models |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        models = "; ".join(f"{m}: {what}" for m, what in sorted(r.models.items()))
        state = "ok" if r.exit_code == 0 else f"FAILED (exit {r.exit_code})"
        lines.append(
            f"| {r.archetype} | {r.description} | {r.rows.get('order_lines', 0):,} | {state} "
            f"| {r.seconds:.0f} s | {models} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from simulator import ARCHETYPES

    parser = argparse.ArgumentParser(prog="python -m orchestration.gallery", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"archetypes (default all): {', '.join(ARCHETYPES)}"
    )
    parser.add_argument("--out", type=Path, help="keep each shop's folder here")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(ARCHETYPES))
    if unknown:
        parser.error(f"unknown archetype {unknown[0]!r}: expected one of {', '.join(ARCHETYPES)}")
    out = args.out or Path(tempfile.mkdtemp(prefix="gallery-"))
    results = []
    for name in args.names or list(ARCHETYPES):
        print(f"{name}: running ...", flush=True)
        result = run_archetype(name, out / name)
        print(f"{name}: exit {result.exit_code} in {result.seconds:.0f} s", flush=True)
        if result.exit_code != 0:
            print(result.output[-3000:], file=sys.stderr)
        results.append(result)
    print(_table(results))
    print(f"\nEach shop's warehouse, config and log: {out}")
    return 0 if all(r.exit_code == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
