"""Every path, schema and name the platform uses, defined once.

Fixed names are constants here. Everything deployment-specific comes from the config file named
by SHOP_CONFIG (default configs/synthetic.yml) and is read when first asked for:
`get_settings()` returns the deployment's `Settings` (read once per process), so Dagster, dbt
and the tests agree. Importing this module reads nothing and changes nothing.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from landing import CANONICAL_COLUMNS, Config, ConfigError, load_config

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "configs" / "synthetic.yml"
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

# Every step that opens the DuckDB file claims a slot in this pool; the instance allows one slot,
# so a scheduled run, a UI launch and `make run` never collide on DuckDB's single-writer lock.
DUCKDB_POOL = "duckdb"
# How often whatever waits for that slot looks again: a step of a run (Dagster backs off to 15 s,
# orchestration/lib/dagster_patches.py) and code outside steps (orchestration/instance.py).
POOL_POLL_SECONDS = 0.5

# DuckDB's memory limit on every connection to the warehouse (the steps' and dbt's; beyond it
# DuckDB spills to <warehouse>.tmp). Its own default, 80% of RAM, let the load of a 2 GB landing
# file pass 17 GiB on the 24 GiB machine; with 8 GB it peaked at 8.1 GiB (make benchmark LINES=2GB).
# 25% keeps a run under the 8 GiB target there: loading 33 M web events (300k customers) peaked at
# 6.30 GiB in 178 s with 25%, at 9.86 GiB in 157 s with 40%.
# A size ('8GB') or a share of RAM ('25%'), from the environment when set there.
DUCKDB_MEMORY_LIMIT_VARIABLE = "DUCKDB_MEMORY_LIMIT"
DEFAULT_DUCKDB_MEMORY_LIMIT = "25%"

RAW_SCHEMA = "raw"
SCORES_SCHEMA = "scores"
SOURCE_TABLES = tuple(CANONICAL_COLUMNS)  # raw tables; each exists, empty if not configured

MODEL_RUNS_TABLE = "model_runs"  # every training run and its promotion decision (history)
# The scored tables and their columns are declared in dbt: see orchestration/lib/scores.py.

REFRESH_JOB = "refresh_all"
RETRAIN_JOB = "retrain_models"  # the models and everything downstream, retraining every model
RETRAIN_TAG = "shop_analytics/retrain"  # "true" on a run: train even if the version is recent

# Great Expectations checks validate a run's reloaded days in full, and of the other rows all of
# them up to this many, else a reproducible sample of this many (orchestration/lib/expectations.py).
QUALITY_SAMPLE_ROWS = 100_000
# More reloaded rows than this (a full refresh of a large shop) are not pulled into pandas in full:
# such a run is validated like one without days, on a sample (about 12 s of GE per 2 M rows).
QUALITY_FULL_ROWS = 2_000_000

# Personal data: the secret salt of the e-mail and name hashes (dbt model stg_shop__customers,
# which reads it through get_settings().pii_salt and binds it as a query parameter). From the
# environment, which dbt's processes inherit: PII_SALT holds it, or PII_SALT_FILE names a file
# holding it (a mounted secret; one trailing newline is ignored). A config without a `synthetic:`
# block (real data) refuses to run without one; only the generated shop falls back to
# DEV_PII_SALT, which is public.
PII_SALT_VARIABLE = "PII_SALT"
PII_SALT_FILE_VARIABLE = "PII_SALT_FILE"
DEV_PII_SALT = "shop-analytics-dev-salt"


def resolve_pii_salt(config: Config, environ: Mapping[str, str] | None = None) -> str:
    """The deployment's pseudonymization salt: $PII_SALT, else the contents of the file named by
    $PII_SALT_FILE, else, for the synthetic shop only, DEV_PII_SALT.

    Raises landing.ConfigError, naming the variables and the config file, when a config with
    real data (no `synthetic:` block) has neither, when both are set, or when the file is
    missing, unreadable or empty."""
    environ = os.environ if environ is None else environ
    where = config.path or "the config"
    salt = environ.get(PII_SALT_VARIABLE)
    salt_file = environ.get(PII_SALT_FILE_VARIABLE)
    if salt and salt_file:
        raise ConfigError(
            f"{where}: both {PII_SALT_VARIABLE} and {PII_SALT_FILE_VARIABLE} are set; set one "
            "of them (the salt itself, or a file holding it)"
        )
    if salt:
        return salt
    if salt_file:
        path = Path(salt_file).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(
                f"{where}: cannot read the pseudonymization salt from {PII_SALT_FILE_VARIABLE}="
                f"{path}: {error}"
            ) from None
        text = text.removesuffix("\n").removesuffix("\r")
        if not text:
            raise ConfigError(
                f"{where}: the salt file {path} ({PII_SALT_FILE_VARIABLE}) is empty; write a "
                "long random secret string into it"
            )
        return text
    if config.synthetic is not None:
        return DEV_PII_SALT
    blank = [name for name in (PII_SALT_VARIABLE, PII_SALT_FILE_VARIABLE) if name in environ]
    empty = f" ({' and '.join(blank)} set but empty)" if blank else ""
    raise ConfigError(
        f"{where}: no pseudonymization salt{empty}. This config has no `synthetic:` block, so it "
        f"holds real customers, whose e-mail addresses and names are hashed with a secret salt: "
        f"set the environment variable {PII_SALT_VARIABLE} to a long random string, or "
        f"{PII_SALT_FILE_VARIABLE} to a file holding it (e.g. `export {PII_SALT_VARIABLE}="
        f"$(openssl rand -hex 32)`, kept in your secrets store). Changing it later changes every "
        "email_hash and name_hash."
    )


@dataclass(frozen=True)
class Settings:
    """One deployment: its config and where its data lives."""

    config_path: Path
    config: Config

    @property
    def data_dir(self) -> Path:
        return self.config.resolve(self.config.data_dir)

    @property
    def duckdb_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def duckdb_memory_limit(self) -> str:
        return os.environ.get(DUCKDB_MEMORY_LIMIT_VARIABLE) or DEFAULT_DUCKDB_MEMORY_LIMIT

    @property
    def dbt_target_dir(self) -> Path:
        """dbt's artefacts for this deployment; kept between runs so dbt re-parses only what
        changed (its partial parsing needs the same profile, vars and target folder)."""
        return self.data_dir / "dbt_target"

    @property
    def model_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def export_dir(self) -> Path:
        return self.data_dir / "exports"

    @property
    def report_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def marketing_report(self) -> Path:
        """The self-contained HTML report for marketers (asset scores/marketing_report)."""
        return self.report_dir / "marketing_report.html"

    # The synthetic shop's generated landing files and hidden truth (tests read the truth;
    # assets never).
    @property
    def landing_dir(self) -> Path | None:
        synthetic = self.config.synthetic
        return self.config.resolve(synthetic.landing_dir) if synthetic else None

    @property
    def truth_dir(self) -> Path | None:
        synthetic = self.config.synthetic
        return self.config.resolve(synthetic.truth_dir) if synthetic else None

    @property
    def state_dir(self) -> Path:
        return REPO_ROOT / ".state" / self.config.name

    @property
    def pii_salt(self) -> str:
        """The pseudonymization salt (resolve_pii_salt); read from the environment when asked,
        never stored in the settings."""
        return resolve_pii_salt(self.config)

    @property
    def platform_paths(self) -> tuple[Path, ...]:
        """What the platform writes under data_dir: never a landing file."""
        return (
            self.duckdb_path,
            self.dbt_target_dir,
            self.model_dir,
            self.export_dir,
            self.report_dir,
        )

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.state_dir / "dagster").resolve()

    @property
    def refresh_cron(self) -> str:
        return os.environ.get("REFRESH_CRON", "0 5 * * *")  # daily, 05:00

    @property
    def refresh_timezone(self) -> str:
        return os.environ.get("REFRESH_TIMEZONE", "UTC")


def _static_prefix(pattern: Path) -> Path:
    """The folder a glob starts from: its parts before the first one with a pattern character."""
    parts = []
    for part in pattern.parts:
        if any(char in part for char in "*?["):
            break
        parts.append(part)
    return Path(*parts)


def check_landing_is_separate(settings: Settings) -> None:
    """Refuse a source whose files could be ones the platform writes (the warehouse, models,
    exports, reports, dbt's folder): a glob such as `data/**/*.csv` would otherwise load the
    platform's own exports back as orders. Raises landing.ConfigError naming the key."""
    config = settings.config
    where = settings.config_path
    for table, source in config.sources.items():
        pattern = config.resolve(source.path)
        prefix = _static_prefix(pattern)
        for written in settings.platform_paths:
            inside = prefix == written or written in prefix.parents
            reaches = "**" in source.path and prefix in written.parents
            matched = [path for path in config.source_files(table) if written in path.parents]
            if inside or reaches or matched:
                raise ConfigError(
                    f"{where}: sources.{table}.path: {source.path!r} "
                    + (f"matches {matched[0]}, " if matched else "can match files ")
                    + f"in {written}, which the platform writes (data_dir: "
                    f"{config.data_dir}); keep landing files in their own folder"
                )


@functools.cache
def get_settings() -> Settings:
    """The deployment named by SHOP_CONFIG (`make run CONFIG=...` sets it), read once.

    Raises landing.ConfigError, naming the file and the key, for an invalid config, for a
    config with real data but no pseudonymization salt (resolve_pii_salt), and for a source
    that could read what the platform writes (check_landing_is_separate)."""
    path = Path(os.environ.get("SHOP_CONFIG") or DEFAULT_CONFIG).expanduser().resolve()
    settings = Settings(path, load_config(path))
    resolve_pii_salt(settings.config)  # refuse to run on real data without a secret salt
    check_landing_is_separate(settings)
    return settings
