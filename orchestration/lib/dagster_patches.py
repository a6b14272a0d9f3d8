"""Two fixes for Dagster 1.13, applied when the definitions are built (`apply()`). Remove each
once Dagster fixes it.

**A busy-wait.** While a step waits for a concurrency-pool slot, `ActiveExecution.sleep_til_ready` sleeps for
`InstanceConcurrencyContext.interval_to_next_pending_claim_check()`. That method returns
`min([0, *intervals])`, which is never positive, so the executor never sleeps: a run blocked on
the `duckdb` pool (behind `make run` or a scheduled run) spins a CPU core at 100 % for as long as
it waits, slowing down the run it waits for. This returns the time to the next pending claim
check instead (never negative), as the surrounding code intends. tests/test_concurrency.py
measures the waiting process's CPU time either way.

**An SQLite engine per event.** The SQLite event log storage (the instance's default) creates a
SQLAlchemy engine for every transaction, `_connect`: every event a run writes pays the engine's
creation, its dialect's first-connect queries and the compilation of its INSERT (each engine has
its own statement cache), twice for an asset or check event (the run's file and the index). About
13 ms of the run's thread per event; a run writes hundreds (every dbt test is a planned check and
an evaluation). This keeps one engine per database file instead, still without a pool (a
connection per transaction, closed after it, as before), and makes a new one whenever the storage
forgets the file (`_initialized_dbs`: emptied by `wipe` and `upgrade`).
"""

import collections
import contextlib
import time
from collections.abc import Iterator

from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

# Engines kept per storage: the run being written and the index, and a few runs the UI reads.
KEPT_ENGINES = 8


def _interval_to_next_pending_claim_check(self: InstanceConcurrencyContext) -> float:
    due = [
        self._pending_timeouts[key] for key in self._pending_claims if key in self._pending_timeouts
    ]
    if not due:
        return 0.0
    return max(0.0, min(due) - time.time())


def _engine(storage: SqliteEventLogStorage, shard: str) -> Engine:
    """The storage's engine for `shard`'s file (called under the storage's lock)."""
    engines: collections.OrderedDict[str, Engine] = storage.__dict__.setdefault(
        "_shop_engines", collections.OrderedDict()
    )
    engine = engines.get(shard)
    if engine is None or shard not in storage._initialized_dbs:
        engine = create_engine(
            storage.conn_string_for_shard(shard),
            poolclass=NullPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        if shard not in storage._initialized_dbs:
            storage._initdb(engine)
            storage._initialized_dbs.add(shard)
        engines[shard] = engine
    engines.move_to_end(shard)
    while len(engines) > KEPT_ENGINES:
        engines.popitem(last=False)[1].dispose()
    return engine


@contextlib.contextmanager
def _connect(self: SqliteEventLogStorage, shard: str) -> Iterator[Connection]:
    with self._db_lock, _engine(self, shard).connect() as conn, conn.begin():
        yield conn


def apply() -> None:
    """Install the fixes (idempotent)."""
    InstanceConcurrencyContext.interval_to_next_pending_claim_check = (
        _interval_to_next_pending_claim_check
    )
    SqliteEventLogStorage._connect = _connect  # type: ignore[method-assign]
