"""Running dbt on a scratch copy of the session warehouse, as the tests that rebuild models on
changed data do (the backtest's truncated world, a hand-made campaign log)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from orchestration.settings import DBT_PROJECT_DIR, get_settings

DBT = str(Path(sys.executable).with_name("dbt"))


def dbt_run(warehouse: Path, target: Path, arguments: list[str], **extra_vars: str) -> None:
    """`dbt run <arguments>` on `warehouse` with the config's vars (and `extra_vars`), writing
    dbt's artefacts and logs under `target`; fails the test with dbt's output if dbt fails."""
    dbt_vars = {**get_settings().config.dbt_vars(), **extra_vars}
    result = subprocess.run(
        [DBT, "run", *arguments, "--vars", json.dumps(dbt_vars)]
        + ["--target-path", str(target), "--log-path", str(target / "logs")]
        + ["--profiles-dir", str(DBT_PROJECT_DIR)],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, "DUCKDB_PATH": str(warehouse)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
