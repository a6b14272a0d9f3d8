"""The deployment config: one YAML file describes a shop's sources and model settings.

`load_config(path)` validates the whole file up front with pydantic. A problem raises ConfigError
naming the file, the key (``sources.order_lines.columns.customer_id``) and what was expected, so a
user never meets it halfway through a run. Paths in the file are relative to the file itself.
"""

from __future__ import annotations

import functools
import glob
import re
import zoneinfo
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# What a source may be mapped onto, and the columns each canonical table has. A source column is
# named in the config; it must match this pattern (no quotes or semicolons), and is quoted in SQL.
SOURCE_COLUMN_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .\-/#()]{0,62}$")
CSV_ENCODINGS = ("utf-8", "latin-1", "utf-16")  # what DuckDB's CSV reader decodes natively

# Canonical tables: column -> DuckDB type. Raw tables in the warehouse have exactly these columns
# (plus lineage columns), whatever the source files look like.
CANONICAL_COLUMNS: dict[str, dict[str, str]] = {
    "order_lines": {
        "order_id": "varchar",
        "line_number": "bigint",
        "customer_id": "varchar",
        "ordered_at": "timestamp",
        "status": "varchar",
        "channel": "varchar",
        "currency": "varchar",
        "country": "varchar",
        "product_id": "varchar",
        "product_name": "varchar",
        "category": "varchar",
        "brand": "varchar",
        "quantity": "bigint",
        "unit_price": "decimal(18, 4)",
        "discount": "decimal(18, 4)",
        "amount": "decimal(18, 4)",
    },
    "customers": {
        "customer_id": "varchar",
        "signup_at": "timestamp",
        "country": "varchar",
        "acquisition_channel": "varchar",
        "email": "varchar",
        "first_name": "varchar",
        "last_name": "varchar",
    },
    "products": {
        "product_id": "varchar",
        "product_name": "varchar",
        "category": "varchar",
        "brand": "varchar",
        "price": "decimal(18, 4)",
        "created_at": "timestamp",
    },
    "web_events": {
        "event_id": "varchar",
        "session_id": "varchar",
        "customer_id": "varchar",
        "event_type": "varchar",
        "event_at": "timestamp",
        "product_id": "varchar",
        "search_query": "varchar",
        "device": "varchar",
    },
    "reviews": {
        "review_id": "varchar",
        "customer_id": "varchar",
        "product_id": "varchar",
        "rating": "decimal(18, 4)",  # 1 to 5 (whole stars); decimal so that 4.5 is seen, not rounded
        "reviewed_at": "timestamp",
        "review_text": "varchar",
    },
    # A campaign log: who was sent what and when, and who was held out as the control group.
    "campaign_sends": {
        "campaign_id": "varchar",
        "customer_id": "varchar",
        "audience": "varchar",
        "sent_at": "timestamp",
        "is_control": "boolean",  # held out (not sent); default false when the source has none
    },
}


class ConfigError(ValueError):
    """The config file is missing, unreadable or invalid; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Returns(_Strict):
    """How a source marks returns besides negative quantities or amounts."""

    order_id_prefix: str | None = Field(
        default=None, description="order ids starting with this are returns, e.g. 'C'"
    )


class Source(_Strict):
    """One landing source mapped onto a canonical table."""

    path: str = Field(description="file or glob, relative to the config file")
    format: Literal["csv", "parquet"] | None = None  # default: from the file extension
    delimiter: str = ","
    encoding: str = "utf-8"
    header: bool = True
    timestamp_format: str | None = Field(
        default=None, description="strptime format such as '%d/%m/%Y %H:%M'; default: ISO 8601"
    )
    timezone: str | None = None  # zone of timestamps without an offset; default: the shop's
    currency: str | None = None  # fills `currency` when the source has no such column
    columns: dict[str, str] = Field(
        default_factory=dict, description="canonical column: source column"
    )
    returns: Returns = Returns()

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError(f"expected a single character, got {value!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        normalized = value.lower().replace("_", "-")
        normalized = {"utf8": "utf-8", "latin1": "latin-1", "iso-8859-1": "latin-1"}.get(
            normalized, normalized
        )
        if normalized not in CSV_ENCODINGS:
            raise ValueError(f"expected one of {', '.join(CSV_ENCODINGS)}, got {value!r}")
        return normalized

    @field_validator("timestamp_format")
    @classmethod
    def _strptime_format(cls, value: str | None) -> str | None:
        if value is not None and "%" not in value:
            raise ValueError(f"expected a strptime format such as '%Y-%m-%d %H:%M', got {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return _valid_zone(value) if value is not None else None

    @field_validator("columns")
    @classmethod
    def _source_column_names(cls, value: dict[str, str]) -> dict[str, str]:
        for canonical, source in value.items():
            if not isinstance(source, str) or not SOURCE_COLUMN_PATTERN.match(source):
                raise ValueError(
                    f"column {canonical!r}: source column name {source!r} is not allowed "
                    "(expected letters, digits, spaces and _ . - / # ( ), at most 63 characters)"
                )
        return value


class Synthetic(_Strict):
    """Generate the built-in synthetic shop into `landing_dir` when its files are missing."""

    customers: int = Field(default=30_000, ge=100)
    products: int = Field(default=800, ge=20)
    seed: int = 42
    landing_dir: str = Field(description="where the generated landing files go")
    truth_dir: str = Field(description="the hidden truth; read by tests, never by the pipeline")


DBT_PROJECT_FILE = Path(__file__).resolve().parents[1] / "dbt_project" / "dbt_project.yml"


@functools.cache
def dbt_var_defaults() -> dict[str, object]:
    """The dbt project's vars (dbt_project.yml): the one place the model settings dbt reads have
    their defaults; a config's `models:` block overrides them and is passed to dbt as --vars."""
    return yaml.safe_load(DBT_PROJECT_FILE.read_text())["vars"]


def _dbt_default(name: str, **bounds: float) -> Any:
    return Field(default_factory=lambda: dbt_var_defaults()[name], **bounds)


class Models(_Strict):
    churn_horizon_days: int = _dbt_default("churn_horizon_days", ge=7, le=730)
    feature_snapshots: int = _dbt_default("feature_snapshots", ge=3, le=24)
    recommender_holdout_days: int = _dbt_default("recommender_holdout_days", ge=1, le=365)
    n_recommendations: int = Field(default=10, ge=1, le=100)
    clv_horizon_days: int = Field(default=365, ge=7, le=3650)
    recommend_already_bought: bool = True
    risk_high_share: float = _dbt_default("risk_high_share", ge=0, le=1)
    risk_medium_share: float = _dbt_default("risk_medium_share", ge=0, le=1)
    # Activation: each audience's control-group share, the retention list's length and the
    # campaign outcome window (days after a send).
    control_group_share: float = _dbt_default("control_group_share", ge=0, le=0.5)
    retention_list_size: int = _dbt_default("retention_list_size", ge=1, le=1_000_000)
    campaign_window_days: int = _dbt_default("campaign_window_days", ge=1, le=365)

    @model_validator(mode="after")
    def _tier_shares(self) -> Models:
        if self.risk_high_share + self.risk_medium_share > 1:
            raise ValueError(
                f"risk_high_share + risk_medium_share must be at most 1, got "
                f"{self.risk_high_share} + {self.risk_medium_share}"
            )
        return self


class Config(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")
    data_dir: str = Field(description="warehouse, models and exports; relative to the config file")
    timezone: str = "UTC"
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    first_day: date = Field(description="the first daily partition; older rows are quarantined")
    last_day: date | None = Field(
        default=None,
        description="the last daily partition of a log that has ended (a public or archived "
        "data set); later rows are quarantined. Default: none, the calendar runs through today",
    )
    sources: dict[str, Source]
    models: Models = Models()
    synthetic: Synthetic | None = None

    # Set by load_config, not by the file.
    base_dir: Path = Field(default=Path("."), exclude=True)
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _valid_zone(value)

    @field_validator("sources")
    @classmethod
    def _canonical_sources(cls, value: dict[str, Source]) -> dict[str, Source]:
        unknown = sorted(set(value) - set(CANONICAL_COLUMNS))
        if unknown:
            raise ValueError(
                f"unknown source {unknown[0]!r}: expected one of {', '.join(CANONICAL_COLUMNS)}"
            )
        if "order_lines" not in value:
            raise ValueError(
                "an 'order_lines' source is required (order lines or transactions: customer id, "
                "timestamp, and amount or quantity and unit price)"
            )
        for table, source in value.items():
            unknown_columns = sorted(set(source.columns) - set(CANONICAL_COLUMNS[table]))
            if unknown_columns:
                raise ValueError(
                    f"{table}.columns: unknown column {unknown_columns[0]!r}; expected some of "
                    f"{', '.join(CANONICAL_COLUMNS[table])}"
                )
        return value

    @model_validator(mode="after")
    def _days_in_order(self) -> Config:
        if self.last_day is not None and self.last_day < self.first_day:
            raise ValueError(
                f"last_day {self.last_day} is before first_day {self.first_day}: expected "
                "first_day <= last_day"
            )
        return self

    @model_validator(mode="after")
    def _amount_or_price(self) -> Config:
        lines = self.sources["order_lines"]
        mapped = set(lines.columns)
        if lines.columns and "amount" not in mapped and not {"quantity", "unit_price"} <= mapped:
            raise ValueError(
                "sources.order_lines.columns: map either 'amount' or both 'quantity' and "
                "'unit_price'"
            )
        return self

    def resolve(self, relative: str) -> Path:
        """A path from the file, relative to the config file's folder."""
        path = Path(relative).expanduser()
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    def source_files(self, table: str) -> list[Path]:
        """The files a source's glob matches now, sorted; empty when the source is not configured."""
        source = self.sources.get(table)
        if source is None:
            return []
        matches = glob.glob(str(self.resolve(source.path)), recursive=True)
        return sorted(Path(match) for match in matches if Path(match).is_file())

    def source_format(self, table: str) -> str:
        source = self.sources[table]
        if source.format:
            return source.format
        return "parquet" if source.path.endswith(".parquet") else "csv"

    def dbt_vars(self) -> dict[str, float]:
        """The model settings dbt reads with var(); passed on every dbt invocation."""
        return {
            "churn_horizon_days": self.models.churn_horizon_days,
            "feature_snapshots": self.models.feature_snapshots,
            "recommender_holdout_days": self.models.recommender_holdout_days,
            "risk_high_share": self.models.risk_high_share,
            "risk_medium_share": self.models.risk_medium_share,
            "control_group_share": self.models.control_group_share,
            "retention_list_size": self.models.retention_list_size,
            "campaign_window_days": self.models.campaign_window_days,
        }


def _valid_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"expected an IANA time zone such as 'Europe/London', got {value!r}"
        ) from None
    return value


def _location(error: dict) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(top level)"


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; ConfigError names the file, the key and the expectation."""
    path = Path(path).expanduser().resolve()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys (name, data_dir, sources, ...)")
    try:
        config = Config.model_validate({**raw, "base_dir": path.parent, "path": path})
    except ValidationError as error:
        problems = []
        for item in error.errors():
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                message = "unknown key"
            elif item["type"] == "missing":
                message = "required key is missing"
            problems.append(f"  {_location(item)}: {message}")
        raise ConfigError(f"{path}: invalid config\n" + "\n".join(problems)) from None
    return config
