"""Every form's pages as a person sees them, in bokmål and in English: no text left in the other
language, the structure WCAG 2.1 AA asks for (labels, descriptions, fieldsets, lang), date inputs
limited to the strategy period, and opening the pages changing nothing in the database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from typing import Any

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlalchemy import select

from aarshjul.db.models import Base
from aarshjul.presentation.i18n import LOCALE_DIR
from aarshjul.runtime import Runtime
from aarshjul.usecases.work.opening import open_task
from forms.layout import ListSpec, layout_of
from forms.messages import CHOICE_LABELS, ERROR_MESSAGES, FALLBACK
from forms.registry import FORMS
from service.app import create_app
from service.routes.forms import csrf_token
from tests.builders import TaskRef, valid_input
from tests.integration.test_forms_http import flatten, task_for

# --- reading a page ---------------------------------------------------------------------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element] = field(default_factory=list)
    text: str = ""


VOID = {"input", "meta", "link", "br", "img", "hr", "col", "source", "area", "base", "wbr"}


class Page(HTMLParser):
    """A page as a tree of elements, and its readable texts (text nodes and text attributes)."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {})
        self.stack = [self.root]
        self.texts: list[str] = []
        self.feed(source)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        for name in ("aria-label", "title", "placeholder", "alt"):
            if element.attrs.get(name):
                self.texts.append(element.attrs[name])
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].text += data
        if data.strip() and self.stack[-1].tag not in ("script", "style"):
            self.texts.append(" ".join(data.split()))

    def all(self, node: Element | None = None) -> Iterator[Element]:
        for child in (node or self.root).children:
            yield child
            yield from self.all(child)


# --- the catalogues -----------------------------------------------------------------------------------


def _form_texts() -> set[str]:
    texts = set(ERROR_MESSAGES.values()) | {FALLBACK} | set(CHOICE_LABELS.values())
    for cls in FORMS.values():
        for part in layout_of(cls):
            texts |= {t for t in (part.label, part.hint) if t}
            if isinstance(part, ListSpec):
                texts |= {t for f in part.fields for t in (f.label, f.hint) if t}
    return texts


@cache
def _pairs() -> tuple[tuple[str, str], ...]:
    """(English message id, bokmål) for every text of every catalogue and every text of the forms."""
    pairs: dict[str, str] = {t: "" for t in _form_texts()}
    for path in sorted((LOCALE_DIR / "nb" / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as fh:
            for message in read_po(fh, locale="nb"):
                if message.id and isinstance(message.id, str):
                    pairs[message.id] = str(message.string or "")
    return tuple(pairs.items())


def _pattern(text: str) -> re.Pattern[str]:
    """A message as it reads on a page: its ``{placeholders}`` stand for anything."""
    parts = re.split(r"\{\w*\}", " ".join(text.split()))
    return re.compile(".+?".join(re.escape(p) for p in parts))


@cache
def _foreign(language: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Texts that must not show on a page in ``language``: the other language's side of each
    message whose two sides differ (an untranslated message reads as its English id)."""
    english = {msgid for msgid, nb in _pairs()}
    bokmaal = {nb for _msgid, nb in _pairs() if nb}
    if language == "nb":
        wrong = {msgid for msgid, nb in _pairs() if nb != msgid} - bokmaal
    else:
        wrong = {nb for msgid, nb in _pairs() if nb and nb != msgid} - english
    # The brand reads the same in both; a message that is little more than placeholders says nothing.
    wrong = {t for t in wrong if t != "Årshjul" and len(re.sub(r"\{\w*\}", "", t).strip()) >= 8}
    return tuple((text, _pattern(text)) for text in sorted(wrong))


def wrong_language(page: Page, language: str) -> list[str]:
    found = []
    for text in page.texts:
        for message, pattern in _foreign(language):
            # a whole text node, or a longer message inside one
            if pattern.fullmatch(text) or (len(message) >= 20 and pattern.search(text)):
                found.append(f"{text!r} (from {message!r})")
    return found


# --- accessibility -----------------------------------------------------------------------------------

CONTROLS = {"input", "select", "textarea"}
NOT_LABELLED = {"hidden", "submit", "button"}


def accessibility_problems(page: Page, language: str) -> list[str]:
    problems = []
    elements = list(page.all())
    html = next(e for e in elements if e.tag == "html")
    if html.attrs.get("lang") != language:
        problems.append(f"html lang is {html.attrs.get('lang')!r}")
    ids = [e.attrs["id"] for e in elements if "id" in e.attrs]
    problems += [f"id {i!r} used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    known = set(ids)
    labels = [e.attrs.get("for") for e in elements if e.tag == "label"]
    for e in elements:
        if e.tag == "script":
            problems.append("a script: the forms work without JavaScript")
        if int(e.attrs.get("tabindex", "0") or 0) > 0:
            problems.append(f"positive tabindex on {e.tag}#{e.attrs.get('id')} breaks the focus order")
        labelled = labels.count(e.attrs.get("id")) == 1
        if e.tag in CONTROLS and e.attrs.get("type") not in NOT_LABELLED and not labelled:
            problems.append(f"{e.tag} {e.attrs.get('name')!r} has no label of its own")
        for ref in e.attrs.get("aria-describedby", "").split():
            if ref not in known:
                problems.append(f"{e.tag}#{e.attrs.get('id')} is described by missing #{ref}")
        if e.attrs.get("aria-invalid") == "true":
            described = e.attrs.get("aria-describedby", "").split()
            if not any(ref.endswith("-error") for ref in described):
                problems.append(f"{e.tag} {e.attrs.get('name')!r} is invalid but its error is not tied to it")
        if e.tag == "fieldset":
            first = e.children[0] if e.children else None
            if first is None or first.tag != "legend" or not first.text.strip():
                problems.append(f"fieldset #{e.attrs.get('id')} has no legend")
        if "table-wrap" in e.attrs.get("class", "").split() and e.attrs.get("tabindex") != "0":
            problems.append("a table that scrolls sideways on a phone cannot be reached by keyboard")
        if e.tag == "button" and not e.text.strip():
            problems.append("a button without text")
        if e.tag == "a" and e.attrs.get("href", "").startswith("#") and e.attrs["href"][1:] not in known:
            problems.append(f"a link to missing {e.attrs['href']}")
    return problems


# --- the pages of one form -----------------------------------------------------------------------------


def _blank_one_text(fields: dict[str, str]) -> dict[str, str]:
    """The posted fields with the first free text of a row emptied: a row-level error."""
    for name, value in fields.items():
        free_text = not re.fullmatch(r"-?\d+|\d{4}-\d\d-\d\d|true|false", value) and value not in CHOICE_LABELS
        if name.count(".") == 2 and free_text:
            return {**fields, name: ""}
    return {}


def pages_of(runtime: Runtime, client: TestClient, task: TaskRef) -> dict[tuple[str, str], str]:
    """Every page a person meets on the way through the form, in both languages: empty, refused
    (a list and a row), a row added, a draft saved, the receipt and the form opened to amend."""
    csrf = csrf_token(runtime, task.token)
    data = flatten(valid_input(open_task(runtime, task.token)))
    posts = {
        "refused": {"csrf": csrf, "action": "submit"},
        "refused row": {**_blank_one_text(data), "csrf": csrf, "action": "submit"},
        "added row": {**data, "csrf": csrf, "action": "add_row"},
        "draft": {**data, "csrf": csrf, "action": "save_draft"},
    }
    pages = {}
    for language in ("nb", "en"):
        url = f"/t/{task.token}?lang={language}"
        pages["empty", language] = client.get(url).text
        for name, body in posts.items():
            pages[name, language] = client.post(url, data=body).text
    pages["receipt", "en"] = client.post(f"/t/{task.token}?lang=en", data={**posts["draft"], "action": "submit"}).text
    pages["receipt", "nb"] = client.get(f"/t/{task.token}?lang=nb&done=1").text
    for language in ("nb", "en"):
        pages["amend", language] = client.get(f"/t/{task.token}?lang={language}&edit=1").text
    return pages


def snapshot(runtime: Runtime) -> dict[str, list[Any]]:
    with runtime.sessions() as session:
        return {
            table.name: [tuple(row) for row in session.execute(select(table).order_by(*table.primary_key.columns))]
            for table in Base.metadata.sorted_tables
        }


@pytest.mark.parametrize("form_key", sorted(FORMS))
def test_every_form_reads_in_one_language_and_is_accessible(runtime: Runtime, form_key: str) -> None:
    client = TestClient(create_app(runtime))
    task = task_for(runtime, form_key)
    pages = pages_of(runtime, client, task)
    assert "Takk. Vi har mottatt svaret ditt" in pages["receipt", "nb"]
    assert "Thank you. We have received your answer" in pages["receipt", "en"]
    for (name, language), source in pages.items():
        page = Page(source)
        assert not wrong_language(page, language), (name, language, wrong_language(page, language))
        assert not accessibility_problems(page, language), (name, language, accessibility_problems(page, language))


@pytest.mark.parametrize("form_key", sorted(FORMS))
def test_opening_any_form_changes_nothing(runtime: Runtime, form_key: str) -> None:
    client = TestClient(create_app(runtime))
    task = task_for(runtime, form_key)
    before = snapshot(runtime)
    for query in ("", "?lang=en", "?edit=1", "?done=1", "?saved=1"):
        assert client.get(f"/t/{task.token}{query}").status_code == 200
    assert client.head(f"/t/{task.token}").status_code in (200, 405)
    assert client.get(f"/api/t/{task.token}").status_code == 200
    assert snapshot(runtime) == before
