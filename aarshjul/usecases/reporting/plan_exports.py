"""The competence plan as CSV and XLSX, from the same document as the page."""

from __future__ import annotations

import io
from typing import Any

from aarshjul.usecases.reporting.plan import CompetencePlan, MeasureEvaluation
from aarshjul.usecases.reporting.spreadsheets import append_row, csv_text

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
]


def plan_table(plan: CompetencePlan) -> list[list[Any]]:
    """The plan as rows (header first): area, main goal, measure, ..., then one column per year ("x")."""
    header = [*CSV_HEADER, *[str(y) for y in plan.years]]
    table: list[list[Any]] = [header]
    for area in plan.areas:
        if not area.measures:
            table.append([area.name, area.main_goal, "", "", "", "", "", "", "", *["" for _ in plan.years]])
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
                    *["x" if y in measure.years else "" for y in plan.years],
                ]
            )
    return table


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
    for column, width in zip("ABCDEFGHI", (34, 44, 50, 28, 36, 16, 10, 10, 12), strict=True):
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
