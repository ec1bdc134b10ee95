"""The competence plan and its yearly status as CSV and XLSX, from the same documents as the pages.
Money goes out as numbers with two decimals, never through a float."""

from __future__ import annotations

import io
from typing import Any

from aarshjul.usecases.planning.plan import CompetencePlan, MeasureEvaluation
from aarshjul.usecases.planning.status import YearlyStatus
from aarshjul.usecases.shared.money import Amounts
from aarshjul.usecases.shared.spreadsheets import append_row, csv_text

CSV_HEADER = [
    "area",
    "main_goal",
    "measure",
    "unit",
    "critical_need",
    "learning_form",
    "first_year",
    "last_year",
    "state",
    "cost_nok",
    "funded_nok",
    "unfunded_nok",
]


def plan_table(plan: CompetencePlan) -> list[list[Any]]:
    """The plan as rows (header first): area, main goal, measure, ..., then one column per year ("x")."""
    header = [*CSV_HEADER, *[str(y) for y in plan.years]]
    table: list[list[Any]] = [header]
    for area in plan.areas:
        if not area.measures:
            table.append([area.name, area.main_goal, *["" for _ in CSV_HEADER[2:]], *["" for _ in plan.years]])
        for measure in area.measures:
            table.append(
                [
                    area.name,
                    area.main_goal,
                    measure.title,
                    measure.unit_name,
                    measure.need_title,
                    measure.learning_form,
                    measure.first_year,
                    measure.last_year,
                    measure.state,
                    *_amounts(measure.cost),
                    *["x" if y in measure.years else "" for y in plan.years],
                ]
            )
    return table


def _amounts(amounts: Amounts | None) -> list[str]:
    return ["", "", ""] if amounts is None else [f"{a:.2f}" for a in (amounts.total, amounts.funded, amounts.unfunded)]


def costs_table(plan: CompetencePlan) -> list[list[Any]]:
    """Every cost line of the plan: measure, year, kind, amount, funding, grant scheme."""
    table: list[list[Any]] = [["area", "measure", "unit", "year", "kind", "amount_nok", "funding", "scheme"]]
    for area in plan.areas:
        for m in area.measures:
            for c in m.costs:
                table.append([area.name, m.title, m.unit_name, c.year, c.kind, f"{c.amount:.2f}", c.funding, c.scheme])
    return table


STATUS_HEADER = [
    "measure",
    "area",
    "unit",
    "first_year",
    "last_year",
    "planned",
    "started",
    "done",
    "evaluated_on",
    "criteria_met",
    "cost_planned_nok",
    "cost_spent_nok",
]


def status_table(status: YearlyStatus) -> list[list[Any]]:
    table: list[list[Any]] = [STATUS_HEADER]
    for m in status.measures:
        table.append(
            [
                m.title,
                m.area_name,
                m.unit_name,
                m.first_year,
                m.last_year,
                "yes" if m.planned else "no",
                "yes" if m.started else "no",
                "yes" if m.done else "no",
                m.evaluated_on.isoformat() if m.evaluated_on else "",
                m.criteria_met or "",
                f"{m.cost_planned:.2f}",
                "" if m.cost_spent is None else f"{m.cost_spent:.2f}",
            ]
        )
    t = status.totals
    table.append(
        [
            "total",
            "",
            "",
            "",
            "",
            t.measures,
            t.started,
            t.done,
            t.evaluations,
            "",
            f"{t.cost_planned:.2f}",
            f"{t.cost_spent:.2f}",
        ]
    )
    return table


def status_csv(status: YearlyStatus) -> str:
    return csv_text(status_table(status))


def status_xlsx(status: YearlyStatus) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = f"Status {status.year}"
    append_row(sheet, [f"{status.period.name}: {status.year}"])
    sheet["A1"].font = Font(bold=True, size=14)
    for row in status_table(status):
        append_row(sheet, row)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    sheet.column_dimensions["A"].width = 50
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def needs_table(plan: CompetencePlan) -> list[list[Any]]:
    table: list[list[Any]] = [["area", "critical_need", "units_count", "units", "strategies", "passive_competence"]]
    for area in plan.needs_by_area:
        for need in area.needs:
            table.append(
                [
                    area.area_name,
                    need.title,
                    need.units_count,
                    "; ".join(need.units),
                    "; ".join(f"{k} {v}" for k, v in sorted(need.strategies.items())),
                    "; ".join(f"{p.unit_name}: {p.text}" for p in need.passive),
                ]
            )
    return table


def plan_csv(plan: CompetencePlan) -> str:
    return csv_text(plan_table(plan))


def _evaluation_text(evaluation: MeasureEvaluation | None) -> str:
    """The answers labelled with the form's field titles in English, as the sheet's column names are."""
    if evaluation is None:
        return ""
    return "; ".join(f"{' › '.join(f.label)}: {f.value}" for f in evaluation.fields)


def plan_xlsx(plan: CompetencePlan) -> bytes:
    """The plan as a workbook: the plan table, the measures' full descriptions, and the needs roll-up."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Kompetanseplan"
    append_row(sheet, [plan.period.name])
    sheet["A1"].font = Font(bold=True, size=14)
    for row in plan_table(plan):
        append_row(sheet, row)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for column, width in zip("ABCDEFGHIJKL", (34, 44, 50, 28, 36, 16, 10, 10, 12, 14, 14, 14), strict=True):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=3):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    details = workbook.create_sheet("Tiltak")
    details.append(
        [
            "measure",
            "unit",
            "critical_need",
            "unit_goal",
            "strategic_goal",
            "desired_effect",
            "success_criteria",
            "learning_goals",
            "form_and_content",
            "evaluation_method",
            "evaluate_on",
            "cost_lines",
            "evaluation",
        ]
    )
    for area in plan.areas:
        for m in area.measures:
            append_row(
                details,
                [
                    m.title,
                    m.unit_name,
                    m.need_title,
                    m.unit_goal,
                    m.strategic_goal,
                    m.desired_effect,
                    m.success_criteria,
                    m.learning_goals,
                    m.form_and_content,
                    m.evaluation_method,
                    m.evaluate_on.isoformat() if m.evaluate_on else "",
                    "; ".join(f"{c.year} {c.kind} {c.amount:.2f} {c.funding} {c.scheme}".strip() for c in m.costs),
                    _evaluation_text(m.evaluation),
                ],
            )
    needs = workbook.create_sheet("Behov")
    for row in needs_table(plan):
        append_row(needs, row)
    for extra in (details, needs):
        for cell in extra[1]:
            cell.font = Font(bold=True)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
