"""`make benchmark`: time the generator, two full refreshes and a one-day incremental refresh on a
fresh warehouse, print numbers.

Runs in a temporary folder so the repository's own warehouse and Dagster instance are untouched.
The target for a refresh on the default shop is 90 s on a 2-core machine (reported, not asserted).
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from orchestration.settings import REPO_ROOT
from simulator import ShopConfig

LAST_DAY = ShopConfig().end_date.isoformat()

REFRESH_TARGET_SECONDS = 90.0


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command; return wall seconds, the peak RSS of any child so far (MiB), and stdout."""
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mib, result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=30_000)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="shop-benchmark-") as folder:
        root = Path(folder)
        config = yaml.safe_load((REPO_ROOT / "configs" / "synthetic.yml").read_text())
        config["data_dir"] = str(root)
        config["synthetic"] |= {
            "landing_dir": str(root / "landing"),
            "truth_dir": str(root / "truth"),
        }
        for table, source in config["sources"].items():
            source["path"] = str(root / "landing" / f"{table}.parquet")
        (root / "config.yml").write_text(yaml.safe_dump(config))
        env = {
            **os.environ,
            "SHOP_CONFIG": str(root / "config.yml"),
            "DAGSTER_HOME": str(root / "dagster"),
        }
        python = sys.executable
        generate = [
            python,
            "-m",
            "simulator",
            "--customers",
            str(args.customers),
            "--out",
            str(root / "landing"),
            "--truth",
            str(root / "truth"),
            "--no-progress",
        ]
        gen_seconds, gen_peak, _ = _timed(generate, env)
        print(
            f"synthetic shop, {args.customers:,} customers: {gen_seconds:.1f} s, peak RSS {gen_peak:,.0f} MiB"
        )
        runs = {
            "first refresh (cold warehouse)": [],
            "second refresh (make run again)": [],
            "one-day incremental refresh (the last day)": ["--days", LAST_DAY],
        }
        seconds_by_run = {}
        for attempt, extra in runs.items():
            seconds, peak, output = _timed([python, "-m", "orchestration.cli", "run", *extra], env)
            seconds_by_run[attempt] = seconds
            print(
                f"\n{attempt}: {seconds:.1f} s wall, peak RSS of any process so far {peak:,.0f} MiB"
            )
            stage_lines = output.split("Wall time per stage", 1)[-1].split("\n\n", 1)[0]
            print("  stage times:" + stage_lines.replace("\n  ", "\n    "))
        full = seconds_by_run["second refresh (make run again)"]
        verdict = "within" if full <= REFRESH_TARGET_SECONDS else "OVER"
        print(f"\nfull refresh {full:.1f} s: {verdict} the {REFRESH_TARGET_SECONDS:.0f} s target")
        print(
            f"one-day incremental refresh "
            f"{seconds_by_run['one-day incremental refresh (the last day)']:.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
