"""The annual wheel as a view model: geometry for a server-drawn SVG (no JavaScript needed).

The year runs clockwise from 1 January at the top. Each step is an arc on its own ring, from the
day it can start (the cycle's start, or the latest deadline of the steps it waits for) to its
deadline; the darker part of the arc is the share of units through the step. A line marks today.
The template repeats everything as text (``<title>``, ``<desc>`` and a list beside the picture).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from babel.dates import get_month_names

from aarshjul.presentation.i18n import locale
from aarshjul.usecases.reporting.board_model import CellState, CycleStatus

SIZE = 420
CENTRE = SIZE / 2
OUTER = 186
RING = 17


@dataclass(frozen=True)
class WheelStep:
    number: int
    name: str
    starts_on: dt.date
    due_on: dt.date
    done_share: float
    track_path: str
    done_path: str
    label_x: float
    label_y: float
    percent: int


@dataclass(frozen=True)
class MonthTick:
    label: str
    x1: float
    y1: float
    x2: float
    y2: float
    label_x: float
    label_y: float


@dataclass(frozen=True)
class WheelView:
    size: int
    centre: float
    year: int
    today: dt.date
    today_x: float
    today_y: float
    steps: list[WheelStep]
    months: list[MonthTick]
    ring_radius: float


def _angle(day: dt.date, year: int) -> float:
    start = dt.date(year, 1, 1)
    length = (dt.date(year + 1, 1, 1) - start).days
    return ((day - start).days % length) / length * 2 * math.pi - math.pi / 2


def _point(angle: float, radius: float) -> tuple[float, float]:
    return round(CENTRE + radius * math.cos(angle), 2), round(CENTRE + radius * math.sin(angle), 2)


def _arc(start: float, sweep: float, radius: float) -> str:
    if sweep <= 0:
        return ""
    sweep = min(sweep, 2 * math.pi - 0.001)
    x1, y1 = _point(start, radius)
    x2, y2 = _point(start + sweep, radius)
    large = 1 if sweep > math.pi else 0
    return f"M {x1} {y1} A {radius} {radius} 0 {large} 1 {x2} {y2}"


def wheel_view(status: CycleStatus, language: str) -> WheelView:
    year = status.cycle.year
    due = {s.key: s.due_on for s in status.steps}
    steps: list[WheelStep] = []
    for index, step in enumerate(status.steps):
        radius = OUTER - 22 - index * RING
        begins = max((due[d] for d in step.depends_on if d in due), default=status.cycle.starts_on)
        begins = min(begins, step.due_on)
        start = _angle(begins, year)
        sweep = max((step.due_on - begins).days, 3) / 365 * 2 * math.pi
        units = sum(step.units_by_state.values())
        finished = step.units_by_state.get(CellState.DONE, 0) + step.units_by_state.get(CellState.SKIPPED, 0)
        share = finished / units if units else 0.0
        label_x, label_y = _point(start, radius)
        steps.append(
            WheelStep(
                number=step.number,
                name=step.names.get(language),
                starts_on=begins,
                due_on=step.due_on,
                done_share=share,
                track_path=_arc(start, sweep, radius),
                done_path=_arc(start, sweep * share, radius),
                label_x=label_x,
                label_y=label_y,
                percent=round(share * 100),
            )
        )
    # The short month names as they stand alone on the dial: "jan", "feb", "mar" (not "mars" as in a date).
    month_names = get_month_names("abbreviated", context="stand-alone", locale=locale(language))
    months = []
    for month in range(12):
        angle = _angle(dt.date(year, month + 1, 1), year)
        x1, y1 = _point(angle, OUTER - 8)
        x2, y2 = _point(angle, OUTER + 2)
        lx, ly = _point(angle + math.pi / 12, OUTER + 12)
        months.append(MonthTick(month_names[month + 1], x1, y1, x2, y2, lx, ly))
    today_x, today_y = _point(_angle(status.today, year), OUTER + 4)
    return WheelView(
        size=SIZE,
        centre=CENTRE,
        year=year,
        today=status.today,
        today_x=today_x,
        today_y=today_y,
        steps=steps,
        months=months,
        ring_radius=OUTER,
    )
