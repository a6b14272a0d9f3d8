"""The deployment config: one YAML file describes a shop's sources and model settings.

`load_config(path)` validates the whole file up front with pydantic. A problem raises ConfigError
naming the file, the key (``sources.order_lines.columns.customer_id``) and what was expected, so a
user never meets it halfway through a run. Paths in the file are relative to the file itself.

YAML's surprises are caught with the key they happen at: an impossible date (``2024-02-30``) is
read as text and refused by the date fields, and an unquoted yes/no/on/off/true/false where a
name or string is expected (``status: Off``) is reported as YAML's boolean, with the fix (quote
it). Time zones must be names both Python and DuckDB know (not ``localtime`` or ``Factory``).
"""

from __future__ import annotations

import difflib
import functools
import glob
import re
import zoneinfo
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

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


DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _calendar_date(value: object) -> object:
    """A day from the file: a real calendar date written YYYY-MM-DD (the loader keeps YAML dates
    as text, so 2024-02-30 reaches this check instead of failing inside the YAML parser)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and DATE_PATTERN.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a real calendar date YYYY-MM-DD such as 2024-02-28, got {value!r}")


# Every date in the config: parsed by _calendar_date, never by YAML or pydantic's lax parsing
# (which reads 20240228 as seconds since 1970).
CalendarDate = Annotated[date, BeforeValidator(_calendar_date)]


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
    fractional_quantities: bool = Field(
        default=False,
        description="order_lines only: quantities may have a fractional part (weights, litres), "
        "loaded exactly with up to 4 decimal places (raw.order_lines.quantity is then "
        "decimal(18, 4)). Default false: quantities are whole numbers, and a fraction such as "
        "2.5 is quarantined with its value instead of being rounded",
    )

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
    # Training is a scheduled concern, scoring a daily one: a refresh retrains a model only when
    # its promoted version is this many days old (0: every refresh), or when asked to.
    retrain_every_days: int = Field(default=7, ge=0, le=365)
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
    first_day: CalendarDate = Field(
        description="the first day of the calendar; older rows are quarantined"
    )
    last_day: CalendarDate | None = Field(
        default=None,
        description="the last day of a log that has ended (a public or archived "
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


# Names zoneinfo can load that are not time zones a shop is in: the machine's own zone (a link
# whose meaning changes from host to host), the tz database's rule template, and its placeholder.
ZONE_ODDITIES = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def known_zones() -> frozenset[str]:
    """IANA zone names that both Python (zoneinfo, for the partitions) and DuckDB (SET TimeZone,
    for ingestion) accept, without the oddities in ZONE_ODDITIES."""
    zones = set(zoneinfo.available_timezones())
    try:
        import duckdb

        with duckdb.connect() as conn:
            rows = conn.execute("select name from pg_timezone_names()").fetchall()
            zones &= {name for (name,) in rows}
    except ImportError:  # pragma: no cover - duckdb is a dependency; zoneinfo alone then
        pass
    return frozenset(zones - ZONE_ODDITIES)


def _valid_zone(value: str) -> str:
    zones = known_zones()
    if value in zones:
        return value
    hint = ""
    by_case = {zone.lower(): zone for zone in zones}
    suggestion = by_case.get(value.lower()) or next(
        iter(difflib.get_close_matches(value, zones, n=1)), None
    )
    if value in ZONE_ODDITIES:
        hint = " (a special entry of the tz database, not a place's time zone)"
    elif suggestion:
        hint = f" (did you mean {suggestion!r}?)"
    raise ValueError(
        f"expected an IANA time zone name such as 'Europe/Berlin' or 'UTC', got {value!r}{hint}"
    )


class _ConfigLoader(yaml.SafeLoader):
    """yaml.SafeLoader that keeps dates as text, so that an impossible date (2024-02-30) is
    refused by the date field with its key instead of raising inside the YAML parser."""


_ConfigLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", yaml.constructor.SafeConstructor.construct_yaml_str
)

YAML_BOOL_TAG = "tag:yaml.org,2002:bool"
# Pydantic error types raised where a string (a name, a format, a key) was expected.
_STRING_ERRORS = frozenset({"string_type", "literal_error", "invalid_key"})


def _key_matches(key: yaml.Node, part: object) -> bool:
    if key.tag == YAML_BOOL_TAG:  # a boolean key: pydantic's location holds True/False (or 1/0)
        return isinstance(part, int) and yaml.load(key.value, _ConfigLoader) == part
    return isinstance(key, yaml.ScalarNode) and key.value == str(part)


def _yaml_path(root: yaml.Node | None, loc: Sequence[object]) -> tuple[list[str], yaml.Node | None]:
    """Follow pydantic's error location through the composed YAML: the key path as written in
    the file, and the node at its end (the key itself for a key error)."""
    names: list[str] = []
    node = root
    key: yaml.Node | None = None
    for part in loc:
        if part == "[key]":
            return names, key
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if _key_matches(k, part)), None)
            if match is None:
                return names + [str(part) for part in loc[len(names) :] if part != "[key]"], None
            key, node = match
            names.append(key.value if isinstance(key, yaml.ScalarNode) else str(part))
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            names.append(str(part))
        else:
            return names + [str(part) for part in loc[len(names) :] if part != "[key]"], None
    return names, node


def _problem(item: dict, root: yaml.Node | None) -> str:
    """One line of a ConfigError: the key path as written in the file, and what was expected."""
    loc = tuple(item["loc"])
    is_key = item["type"] == "invalid_key" or "[key]" in loc
    if item["type"] == "invalid_key":
        loc = (*loc, "[key]")
    names, node = _yaml_path(root, loc)
    where = ".".join(names or [str(part) for part in loc if part != "[key]"]) or "(top level)"
    message = item["msg"].removeprefix("Value error, ")
    if item["type"] == "extra_forbidden":
        message = "unknown key"
    elif item["type"] == "missing":
        message = "required key is missing"
    if isinstance(item.get("input"), bool) and item["type"] in _STRING_ERRORS:
        boolean = str(item["input"]).lower()
        written = node.value if isinstance(node, yaml.ScalarNode) else boolean
        line = f" (line {node.start_mark.line + 1})" if node is not None else ""
        if is_key:
            expected = "a text key"
        elif item["type"] == "literal_error":
            expected = message.replace("Input should be", "one of", 1)
        else:
            expected = "text"
        message = (
            f"expected {expected}, got {written}{line}, which YAML reads as the boolean "
            f"{boolean}: YAML reads unquoted yes/no/on/off/true/false as booleans, so quote it: "
            f"'{written}'"
        )
    return f"  {where}: {message}"


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; ConfigError names the file, the key and the expectation."""
    path = Path(path).expanduser().resolve()
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.load(text, _ConfigLoader)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: expected UTF-8 text: {error}") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file: {error}") from None
    except (yaml.YAMLError, ValueError, TypeError) as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys (name, data_dir, sources, ...)")
    try:
        config = Config.model_validate({**raw, "base_dir": path.parent, "path": path})
    except ValidationError as error:
        root = yaml.compose(text, _ConfigLoader)
        problems = [_problem(item, root) for item in error.errors()]
        raise ConfigError(f"{path}: invalid config\n" + "\n".join(problems)) from None
    return config
