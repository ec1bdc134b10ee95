"""PDF documents from the same HTML and CSS as the pages (WeasyPrint).

WeasyPrint needs Pango and HarfBuzz from the operating system (Debian: libpango-1.0-0,
libpangoft2-1.0-0, libharfbuzz-subset0, and a font such as fonts-dejavu-core; ``scripts/install``
installs them). Where they are missing, ``PdfUnavailable`` says so and the service answers 503 with
that message instead of failing: every other page and export works without them.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

#: The print stylesheet every PDF uses, beside the pages' own stylesheets.
PRINT_CSS = Path(__file__).resolve().parents[2] / "service" / "static" / "print.css"


class PdfUnavailable(Exception):
    """The PDF library or the system libraries it needs are missing on this machine."""


def html_to_pdf(html: str) -> bytes:
    """The HTML document as a PDF (A4, the print stylesheet). Raises PdfUnavailable."""
    try:
        from weasyprint import CSS, HTML
    except (ImportError, OSError) as exc:  # OSError: Pango or its friends could not be loaded
        log.warning("PDF unavailable: %s", exc)
        raise PdfUnavailable(str(exc)) from exc
    document = HTML(string=html, base_url=str(PRINT_CSS.parent))
    pdf = document.write_pdf(stylesheets=[CSS(filename=str(PRINT_CSS))])
    if pdf is None:
        raise PdfUnavailable("WeasyPrint wrote no PDF")
    return bytes(pdf)
