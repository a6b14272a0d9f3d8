"""SQL quoting of table and column names: the one allow-list for names that reach SQL (the
loader and the orchestration's warehouse helpers both use it)."""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def identifier(name: str) -> str:
    """Return `name` quoted for SQL after checking it is a plain identifier (never user SQL)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"Not a valid table or column name: {name!r}")
    return f'"{name}"'


def relation(schema: str, table: str) -> str:
    """Return `schema.table` quoted for SQL, each part checked by `identifier`."""
    return f"{identifier(schema)}.{identifier(table)}"


def string_literal(text: str) -> str:
    """`text` as an SQL string literal, for SQL that cannot take bound parameters (a view)."""
    return "'" + text.replace("'", "''") + "'"
