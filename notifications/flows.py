"""Where the runner (flows/serve.py) finds the dispatcher flow: ``dispatch``, served as ``dispatch_outbox/dispatch``."""

from __future__ import annotations

from flows.dispatch import DISPATCH_DEPLOYMENT, dispatch_outbox

dispatch = dispatch_outbox

__all__ = ["DISPATCH_DEPLOYMENT", "dispatch"]
