"""How every Årshjul task is declared: retried on I/O trouble, never cached, no result kept.

Every task has side effects (it writes, sends mail) or reads what changes between calls. Prefect's
default cache policy would hand back an earlier call's result as soon as results are persisted
(``PREFECT_RESULTS_PERSIST_BY_DEFAULT=true``, or any explicit policy): a dispatch batch would report
mail as sent without sending it. So no task caches and none writes its result to storage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Task, task
from prefect.cache_policies import NO_CACHE

P = ParamSpec("P")
R = TypeVar("R")


def work_task(name: str, retries: int = 2, retry_delay_seconds: float = 5) -> Callable[[Callable[P, R]], Task[P, R]]:
    """``task`` for Årshjul's work: the plain function stays callable and testable as it is."""

    def wrap(function: Callable[P, R]) -> Task[P, R]:
        made: Task[P, R] = task(
            name=name,
            retries=retries,
            retry_delay_seconds=retry_delay_seconds,
            cache_policy=NO_CACHE,
            persist_result=False,
        )(function)
        return made

    return wrap


def is_uncached(candidate: Any) -> bool:
    """True for a task that neither caches nor persists its result (checked over every task by a test)."""
    return bool(candidate.cache_policy is NO_CACHE and candidate.persist_result is False)
