"""The HTTP headers every answer carries, in one middleware.

- ``Content-Security-Policy``: scripts, styles, images and forms from this site only, no inline
  script or style (the templates have none: styles are in /static), and no framing by anyone
  (``frame-ancestors 'none'``, with ``X-Frame-Options: DENY`` for older browsers), so HR's buttons
  cannot be clickjacked.
- ``X-Content-Type-Options: nosniff``, ``Cross-Origin-Opener-Policy: same-origin``.
- ``Referrer-Policy``: ``no-referrer`` on pages whose address holds a token (a link in a page
  must not hand the token on), ``same-origin`` elsewhere (HR's forms use it to come back).
- ``Strict-Transport-Security`` when the service's base URL is https.
- ``Cache-Control: no-store`` on everything but the static files: pages and JSON hold personal data,
  tokens or CSRF values, and must not stay in a shared or browser cache.

A route that sets one of these itself (the local outbox's mail preview, framed by its own page)
keeps its own value.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Paths whose next segment is a token (the same paths the logs redact).
TOKEN_PREFIXES = ("/t/", "/api/t/", "/me/", "/plan-review/")
HSTS = "max-age=31536000"


def headers_for(path: str, https: bool) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": CSP,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Referrer-Policy": "no-referrer" if path.startswith(TOKEN_PREFIXES) else "same-origin",
    }
    if not path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return headers


class SecurityHeaders:
    def __init__(self, app: ASGIApp, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = headers_for(scope.get("path", ""), self.https)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
