"""A fix for a Dagster 1.13 busy-wait, applied when the definitions are built (`apply()`).

While a step waits for a concurrency-pool slot, `ActiveExecution.sleep_til_ready` sleeps for
`InstanceConcurrencyContext.interval_to_next_pending_claim_check()`. That method returns
`min([0, *intervals])`, which is never positive, so the executor never sleeps: a run blocked on
the `duckdb` pool (behind `make run` or a scheduled run) spins a CPU core at 100 % for as long as
it waits, slowing down the run it waits for. This returns the time to the next pending claim
check instead (never negative), as the surrounding code intends. Remove it once Dagster fixes
the method; tests/test_concurrency.py measures the waiting process's CPU time either way.
"""

import time

from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext


def _interval_to_next_pending_claim_check(self: InstanceConcurrencyContext) -> float:
    due = [
        self._pending_timeouts[key] for key in self._pending_claims if key in self._pending_timeouts
    ]
    if not due:
        return 0.0
    return max(0.0, min(due) - time.time())


def apply() -> None:
    """Install the fix (idempotent)."""
    InstanceConcurrencyContext.interval_to_next_pending_claim_check = (
        _interval_to_next_pending_claim_check
    )
