"""Follow-up of the development plan agreed in the talk (principle 3: leaders who cultivate learning
follow the plans up, not only fill in a form once a year).

The leader's talk record names follow-up dates. When a date comes, the sweep opens one follow-up
task for the employee's leader, once per record and date (the natural key holds both). Follow-up
tasks, like evaluation tasks, belong to no step of the cycle and live on after the cycle closes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from aarshjul.domain.cycle_spec import LocalizedText
from aarshjul.domain.progression import EVALUATION_STEP_KEY

FOLLOW_UP_STEP_KEY = "follow_up"
FOLLOW_UP_PART_KEY = "follow_up"
FOLLOW_UP_NAME = LocalizedText(
    nb="Oppfølging av utviklingsplanen", nn="Oppfølging av utviklingsplanen", en="Follow-up of the development plan"
)
#: Evaluation tasks belong to no step either; this is their name wherever a step's name would be.
EVALUATION_NAME = LocalizedText(nb="Evaluering av tiltak", nn="Evaluering av tiltak", en="Measure evaluation")
#: How long the leader has to write the follow-up once its date has come.
FOLLOW_UP_DAYS_TO_RESPOND = 14

#: A measure's participants' short survey (Kirkpatrick levels 1 and 2) when its year's evaluation comes.
FEEDBACK_STEP_KEY = "measure_feedback"
FEEDBACK_PART_KEY = "feedback"
FEEDBACK_NAME = LocalizedText(
    nb="Din vurdering av et kompetansetiltak",
    nn="Di vurdering av eit kompetansetiltak",
    en="Your view of a competence measure",
)
#: How long the survey stays open; it closes then, so that the owner sees a settled picture.
FEEDBACK_DAYS_TO_RESPOND = 14

#: Tasks outside the cycle's steps: closing or cancelling the cycle does not stop them.
LIVES_ON_STEP_KEYS = frozenset({EVALUATION_STEP_KEY, FOLLOW_UP_STEP_KEY, FEEDBACK_STEP_KEY})


def feedback_natural_key(measure_id: int, year: int, person_id: int) -> str:
    return f"{FEEDBACK_STEP_KEY}:m{measure_id}:y{year}:p{person_id}"


#: A follow-up task's natural key is this, the record's task id, a colon and the date (ISO).
FOLLOW_UP_KEY_PREFIX = f"{FOLLOW_UP_STEP_KEY}:t"


def follow_up_natural_key(record_task_id: int, on: dt.date) -> str:
    return f"{FOLLOW_UP_KEY_PREFIX}{record_task_id}:{on.isoformat()}"


def follow_up_dates(record: Mapping[str, Any]) -> list[dt.date]:
    """The distinct follow-up dates of a submitted talk record, earliest first.

    The record was validated when it was submitted; a value that is not a date (a record written by
    an older form version) is passed over rather than stopping the sweep for everyone.
    """
    found: set[dt.date] = set()
    items = record.get("follow_ups")
    for item in items if isinstance(items, list) else []:
        value = item.get("on") if isinstance(item, dict) else None
        if isinstance(value, str):
            try:
                found.add(dt.date.fromisoformat(value))
            except ValueError:
                continue
    return sorted(found)


def due_follow_ups(dates: Iterable[dt.date], today: dt.date) -> list[dt.date]:
    """The follow-up dates that have come by ``today``."""
    return [d for d in dates if d <= today]


def follow_up_due_on(today: dt.date) -> dt.date:
    return today + dt.timedelta(days=FOLLOW_UP_DAYS_TO_RESPOND)
