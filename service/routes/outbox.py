"""``/dev/outbox``: the local outbox in the browser, so a demo user can read their mail and click the link.

Only when the mail backend is "outbox" and the environment is not production; anywhere else these
pages do not exist (404). They show everyone's links, which is the point of a demo and why they stop there.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from notifications.dev_outbox import enabled, get_attachment, get_message, list_outbox
from service.deps import LanguageDep, RuntimeDep
from service.pages import page

router = APIRouter(prefix="/dev/outbox", tags=["dev"], include_in_schema=False)

#: The message's own HTML is shown in a sandbox: no scripts, no forms, links open in a new tab.
SANDBOX = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; style-src 'unsafe-inline'; "
    "img-src data:; frame-ancestors 'self'"
)


def _guard(runtime: RuntimeDep) -> None:
    if not enabled(runtime.settings):
        raise HTTPException(status_code=404)


@router.get("", response_class=HTMLResponse)
def outbox(request: Request, runtime: RuntimeDep, language: LanguageDep) -> HTMLResponse:
    _guard(runtime)
    return page(request, "outbox/list.html", {"messages": list_outbox(runtime)}, language)


@router.get("/{notification_id}", response_class=HTMLResponse)
def outbox_message(request: Request, notification_id: int, runtime: RuntimeDep, language: LanguageDep) -> HTMLResponse:
    _guard(runtime)
    message = get_message(runtime, notification_id)
    if message is None:
        raise HTTPException(status_code=404)
    return page(request, "outbox/message.html", {"message": message}, language)


@router.get("/{notification_id}/html")
def outbox_message_html(notification_id: int, runtime: RuntimeDep) -> Response:
    _guard(runtime)
    message = get_message(runtime, notification_id)
    if message is None or not message["html"]:
        raise HTTPException(status_code=404)
    # Framed by its own page here, so not DENY; emails carry inline styles, allowed only in this sandbox.
    return HTMLResponse(message["html"], headers={"Content-Security-Policy": SANDBOX, "X-Frame-Options": "SAMEORIGIN"})


@router.get("/{notification_id}/text")
def outbox_message_text(notification_id: int, runtime: RuntimeDep) -> Response:
    _guard(runtime)
    message = get_message(runtime, notification_id)
    if message is None or not message["text"]:
        raise HTTPException(status_code=404)
    return PlainTextResponse(message["text"])


@router.get("/{notification_id}/attachments/{index}")
def outbox_attachment(notification_id: int, index: int, runtime: RuntimeDep) -> Response:
    """An attachment as sent (the talk's .ics), to download and open in a calendar."""
    _guard(runtime)
    attachment = get_attachment(runtime, notification_id, index)
    if attachment is None:
        raise HTTPException(status_code=404)
    # The name is ours ("invitation.ics"); quoting still keeps a header out of reach of any future name.
    filename = attachment.filename.replace('"', "").replace("\r", "").replace("\n", "")
    return Response(
        attachment.content,
        media_type=attachment.content_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "X-Content-Type-Options": "nosniff"},
    )
