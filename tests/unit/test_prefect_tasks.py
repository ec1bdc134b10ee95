"""No Prefect task caches or persists its result: a cached dispatch batch would report mail it never sent."""

from __future__ import annotations

import importlib
import pkgutil

from prefect import Task

import tasks
from tasks.options import is_uncached


def test_every_task_neither_caches_nor_keeps_its_result() -> None:
    found = {
        f"{info.name}.{name}": value
        for info in pkgutil.iter_modules(tasks.__path__, "tasks.")
        for name, value in vars(importlib.import_module(info.name)).items()
        if isinstance(value, Task)
    }
    assert {"tasks.cycle_tasks.advance_task", "tasks.dispatch_tasks.dispatch_batch_task"} <= set(found)
    assert [name for name, task in found.items() if not is_uncached(task)] == []
