"""Landing files into the warehouse: the deployment config and the loader, no Dagster.

config: the YAML deployment config (load_config, the canonical columns); tables: the canonical
raw tables and their rules; read: reading a source's CSV or Parquet files; erasure: the erasure
list of customers whose data is not loaded; load: load_source, which loads or quarantines every
row; reconcile: rows read = loaded + quarantined + erased.
"""

from landing.config import (
    CANONICAL_COLUMNS,
    CSV_ENCODINGS,
    SOURCE_COLUMN_PATTERN,
    Config,
    ConfigError,
    Models,
    Returns,
    Source,
    Synthetic,
    load_config,
)
from landing.load import LoadReport, load_source, reason_kind
from landing.read import SourceError, file_days, file_fingerprint
from landing.reconcile import reconcile
from landing.tables import (
    LINEAGE_COLUMNS,
    LOAD_LOG_TABLE,
    ORDER_STATUSES,
    QUARANTINE_TABLE,
    TABLES,
    Rule,
    TableSpec,
    ensure_raw_tables,
    raw_table_ddl,
)

__all__ = [
    "CANONICAL_COLUMNS",
    "CSV_ENCODINGS",
    "SOURCE_COLUMN_PATTERN",
    "Config",
    "ConfigError",
    "Models",
    "Returns",
    "Source",
    "Synthetic",
    "load_config",
    "LoadReport",
    "load_source",
    "reason_kind",
    "SourceError",
    "file_days",
    "file_fingerprint",
    "reconcile",
    "LINEAGE_COLUMNS",
    "LOAD_LOG_TABLE",
    "ORDER_STATUSES",
    "QUARANTINE_TABLE",
    "TABLES",
    "Rule",
    "TableSpec",
    "ensure_raw_tables",
    "raw_table_ddl",
]
