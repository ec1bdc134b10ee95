"""Every form opens with guidance (what the step is for, what a good answer looks like) and the leader's
talk forms with a talk guide; all of it in bokmål and English."""

from __future__ import annotations

from aarshjul.domain.enums import FormKey
from aarshjul.presentation.i18n import translations
from forms.guidance import GUIDANCE, TALK_GUIDE, TALK_GUIDE_FORMS
from forms.registry import FORMS


def test_every_form_has_guidance() -> None:
    assert set(GUIDANCE) == set(FormKey) == set(FORMS)
    assert all(g.purpose.strip() and g.good_answer.strip() for g in GUIDANCE.values())
    assert {FormKey.TALK_RECORD, FormKey.TALK_FOLLOW_UP} == TALK_GUIDE_FORMS
    assert len(TALK_GUIDE) >= 8  # the lecture's points for the leader as competence developer


def test_the_guidance_speaks_bokmaal() -> None:
    nb = translations("nb")
    texts = [t for g in GUIDANCE.values() for t in (g.purpose, g.good_answer)] + list(TALK_GUIDE)
    assert [t for t in texts if nb.gettext(t) == t] == []
    # The words of the mastery climate: a description of what someone can do, never a grade.
    assert "ingen karakter" in nb.gettext(GUIDANCE[FormKey.TALK_RECORD].good_answer)
