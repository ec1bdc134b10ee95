"""Which runtime a flow run works with.

In the Prefect runner a flow run builds the runtime from the environment (``get_runtime``); the
service and tests that run flows in their own process hand theirs over with ``use_runtime``.
"""

from __future__ import annotations

from aarshjul.runtime import Runtime, get_runtime

_override: Runtime | None = None


def use_runtime(runtime: Runtime | None) -> None:
    global _override
    _override = runtime


def flow_runtime() -> Runtime:
    return _override if _override is not None else get_runtime()
