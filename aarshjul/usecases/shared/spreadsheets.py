"""Cells of the files HR opens in a spreadsheet (the board's CSV, the plan's CSV and workbook).

Their text is typed by people: a measure's title, a unit's name. Text that starts like a formula
(``=``, ``+``, ``-``, ``@``, a tab or a carriage return) would be run by the spreadsheet ("CSV
injection"), so in CSV it gets a leading apostrophe, and in a workbook it is stored as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl.worksheet.worksheet import Worksheet

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([csv_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def append_row(sheet: Worksheet, row: Sequence[Any]) -> None:
    sheet.append(list(row))
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            # openpyxl stores a string that starts with "=" as a formula; text must stay text.
            cell.data_type = "s"
