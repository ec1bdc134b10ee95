"""The local outbox as people read it: ``/dev/outbox`` in the service and ``aarshjul outbox [--json]``.

With the "outbox" mail backend nothing leaves the machine; the dispatcher writes each rendered
message to its row, and this module lists them so a person trying the demo can read their mail and
follow its links. The JSON shape of ``list_outbox`` is stable: the CLI prints it as is.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from sqlalchemy import select

from aarshjul.db.models import Notification
from aarshjul.runtime import Runtime
from aarshjul.settings import Settings
from notifications.backends import Attachment

LINK = re.compile(r"https?://\S+/t/[A-Za-z0-9._-]+")
NEWEST_FIRST_LIMIT = 500


def enabled(settings: Settings) -> bool:
    """Shown only where it can hold nothing real: the local backend, in demo mode or an environment
    explicitly set to development (production is the default)."""
    return settings.mail_backend == "outbox" and settings.development


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _entry(row: Notification, with_bodies: bool) -> dict[str, Any]:
    text = row.body_text or ""
    entry: dict[str, Any] = {
        "id": row.id,
        "idempotency_key": row.idempotency_key,
        "to": row.to_email,
        "recipient_id": row.recipient_id,
        "language": row.language,
        "template": row.template,
        "state": row.state,
        "subject": row.subject,
        "created_at": _iso(row.created_at),
        "not_before": _iso(row.not_before),
        "sent_at": _iso(row.sent_at),
        "attempts": row.attempts,
        "last_error": row.last_error,
        "links": LINK.findall(text),
        "attachments": [
            {"index": i, "filename": a["filename"], "content_type": a["content_type"]}
            for i, a in enumerate(row.attachments or [])
        ],
    }
    if with_bodies:
        entry["text"] = row.body_text
        entry["html"] = row.body_html
    return entry


def list_outbox(runtime: Runtime, limit: int = NEWEST_FIRST_LIMIT) -> list[dict[str, Any]]:
    """Newest first. Keys: id, idempotency_key, to, recipient_id, language, template, state, subject,
    created_at, not_before, sent_at (ISO 8601 or null), attempts, last_error, links (task links in
    the text), attachments (index, filename, content_type), text (the plain-text body, null until sent)."""
    with runtime.sessions() as session:
        rows = session.scalars(select(Notification).order_by(Notification.id.desc()).limit(limit)).all()
        return [{**_entry(row, with_bodies=False), "text": row.body_text} for row in rows]


def get_message(runtime: Runtime, notification_id: int) -> dict[str, Any] | None:
    """One message with both bodies (``text`` and ``html``)."""
    with runtime.sessions() as session:
        row = session.get(Notification, notification_id)
        return _entry(row, with_bodies=True) if row is not None else None


def get_attachment(runtime: Runtime, notification_id: int, index: int) -> Attachment | None:
    """One attachment of a sent message, as it was sent (the talk's calendar invitation)."""
    with runtime.sessions() as session:
        row = session.get(Notification, notification_id)
        stored = list(row.attachments or []) if row is not None else []
    if not 0 <= index < len(stored):
        return None
    item = stored[index]
    return Attachment(item["filename"], item["content_type"], base64.b64decode(item["content_base64"]))


def format_outbox(entries: list[dict[str, Any]], full: bool = True) -> str:
    """For the terminal: one block per message, newest first, with its text (or a one-line summary)."""
    if not entries:
        return "The outbox is empty.\n"
    blocks = []
    for entry in entries:
        when = entry["sent_at"] or f"due {entry['not_before']}"
        head = (
            f"#{entry['id']}  {entry['state']:<9}  {when}  to {entry['to']}  [{entry['template']}, {entry['language']}]"
        )
        lines = [head, f"    {entry['subject'] or '(not rendered yet)'}"]
        if entry["last_error"]:
            lines.append(f"    last error: {entry['last_error']}")
        for item in entry["attachments"]:
            lines.append(f"    attached: {item['filename']} ({item['content_type']})")
        if full and entry.get("text"):
            lines.append("")
            lines.extend(f"    {line}" if line else "" for line in str(entry["text"]).splitlines())
        elif entry["links"]:
            lines.extend(f"    {link}" for link in entry["links"])
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
