"""Three fixes for Dagster 1.13, applied when the definitions are built (`apply()`). Remove each
once Dagster fixes it.

**A busy-wait.** While a step waits for a concurrency-pool slot,
`ActiveExecution.sleep_til_ready` sleeps for
`InstanceConcurrencyContext.interval_to_next_pending_claim_check()`. That method returns
`min([0, *intervals])`, which is never positive, so the executor never sleeps: a run blocked on
the `duckdb` pool (behind `make run` or a scheduled run) spins a CPU core at 100 % for as long as
it waits, slowing down the run it waits for. This returns the time to the next pending claim
check instead (never negative), as the surrounding code intends. tests/test_concurrency.py
measures the waiting process's CPU time either way.

**A backoff that idles the pool.** A step that could not get a slot asks again after 1 s, then
after an interval growing by a factor 1.1 per try up to 15 s (`_calculate_timeout_interval`).
When the slot is freed, the storage hands it to the oldest waiting step, which only takes it at
its next try: behind a run of many short steps, the one slot sat idle up to 15 s per hand-off
(four runs started together on the test shop, tests/test_concurrency.py, finished after 107 s
with pauses of up to 16 s between steps). A waiting step asks every `POOL_POLL_SECONDS` instead
(orchestration/settings.py), as code outside steps does (orchestration/instance.py): one small
SQLite transaction per waiting step per poll.

**An SQLite engine and connection per event.** The SQLite event log storage (the instance's
default) creates a SQLAlchemy engine for every transaction (`_connect`) and closes its connection
after it: every event a run writes pays the engine's creation, its dialect's first-connect
queries, the compilation of its INSERT (each engine has its own statement cache) and SQLite's
open and close, twice for an asset or check event (the run's file and the index): 17-24 ms per
runless materialization on this machine, against 5-8 ms with this patch. This keeps one engine
per database file with one connection open between transactions, so it is the storage's own
thread lock (`_db_lock`) that orders their use. Between transactions the connection holds no
SQLite lock, so other processes (the UI, the daemon, other runs) write as before, and read
transactions see their commits. A new engine replaces the old whenever the storage forgets the
file (`_initialized_dbs`, emptied by `wipe`, which deletes the files, and `upgrade`), in a forked
process, and past KEPT_ENGINES files (the least recently used is closed).
"""

import collections
import contextlib
import os
import time
from collections.abc import Iterator

from dagster._core.execution.plan import instance_concurrency_context
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, QueuePool

from orchestration.settings import POOL_POLL_SECONDS

# Engines kept per storage: the run being written and the index, and a few runs the UI reads.
KEPT_ENGINES = 8
CONNECT_ARGS = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}


def _interval_to_next_pending_claim_check(self: InstanceConcurrencyContext) -> float:
    due = [
        self._pending_timeouts[key] for key in self._pending_claims if key in self._pending_timeouts
    ]
    if not due:
        return 0.0
    return max(0.0, min(due) - time.time())


def _engine(storage: SqliteEventLogStorage, shard: str) -> Engine:
    """The storage's engine for `shard`'s file in this process (called under the storage's lock)."""
    engines: collections.OrderedDict[str, Engine] = storage.__dict__.setdefault(
        "_shop_engines", collections.OrderedDict()
    )
    if storage.__dict__.setdefault("_shop_engines_pid", os.getpid()) != os.getpid():
        engines.clear()  # a forked process never shares its parent's SQLite connections
        storage.__dict__["_shop_engines_pid"] = os.getpid()
    engine = engines.get(shard)
    if engine is None or shard not in storage._initialized_dbs:
        if engine is not None:
            engine.dispose()  # its file was deleted (wipe): a new one takes its place
        url = storage.conn_string_for_shard(shard)
        if shard not in storage._initialized_dbs:
            storage._initdb(create_engine(url, poolclass=NullPool, connect_args=CONNECT_ARGS))
            storage._initialized_dbs.add(shard)
        engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
            connect_args={**CONNECT_ARGS, "check_same_thread": False},
        )
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
    # Read by _calculate_timeout_interval at each try: the backoff is capped at the poll.
    instance_concurrency_context.MAX_CONCURRENCY_CLAIM_BLOCKED_INTERVAL = POOL_POLL_SECONDS
