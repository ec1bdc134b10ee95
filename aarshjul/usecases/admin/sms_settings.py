"""The organisation's choice, per kind of message, of SMS with the email or instead of it.

A kind with no choice goes by email only. The outbox reads the choice when a message is queued
(``notifications.outbox``), so a change applies to messages queued from then on. A person without a
mobile number gets the email whatever the choice.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import SmsSetting
from aarshjul.domain.enums import SmsMode
from aarshjul.domain.errors import InvalidInput
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.writes import audit
from notifications.outbox import SMS_TEMPLATES


def sms_settings(session: Session) -> dict[str, SmsMode | None]:
    """Every kind of message that has an SMS text, and what was chosen for it (None: email only)."""
    chosen = {row.template: row.mode for row in session.scalars(select(SmsSetting))}
    return {template: chosen.get(template) for template in SMS_TEMPLATES}


def set_sms_mode(runtime: Runtime, template: str, mode: SmsMode | None, actor: str) -> None:
    """Choose SMS with or instead of the email for one kind of message; None goes back to email only."""
    if template not in SMS_TEMPLATES:
        raise InvalidInput("template", f"no SMS text for {template!r}; choose one of {', '.join(SMS_TEMPLATES)}")
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        row = session.get(SmsSetting, template)
        before = {"mode": row.mode.value if row is not None else None}
        if mode is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(SmsSetting(template=template, mode=mode))
        else:
            row.mode = mode
        audit(session, now, actor, "sms.setting", "template", template, before, {"mode": mode.value if mode else None})
