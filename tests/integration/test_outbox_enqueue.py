from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from aarshjul.db.models import Notification
from aarshjul.runtime import Runtime
from notifications.outbox import OutgoingMessage, enqueue, enqueue_many


def _message(key: str) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key,
        to_email="kari@example.no",
        language="nb",
        template="task_invitation",
        context={"task_ids": [1]},
        not_before=dt.datetime(2027, 1, 4, tzinfo=dt.UTC),
    )


def test_the_same_key_is_queued_once(runtime: Runtime) -> None:
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        assert enqueue(session, _message("a"), now) is True
        assert enqueue(session, _message("a"), now) is False
        enqueue_many(session, [_message("a"), _message("b"), _message("c")], now)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 3
