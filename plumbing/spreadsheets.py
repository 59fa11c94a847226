"""CSV downloads whose cells a spreadsheet shows as text, never runs as a formula (every app's exports)."""

import csv
import io
from collections.abc import Iterable
from itertools import chain

from django.http import HttpResponse

# A cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """`value`, with a leading ' if it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_response(*, filename: str, header: list[str], rows: Iterable[Iterable[object]]) -> HttpResponse:
    """A CSV attachment: the header, then each row with every cell made safe to open. Rows end in "\\n"."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Written with "\r\n" so that the writer quotes a cell holding a lone "\r" too (with "\n" it leaves it
    # bare, and a spreadsheet splits the row there); each row's own ending is then put back to "\n".
    line = io.StringIO()
    writer = csv.writer(line, lineterminator="\r\n")
    for row in chain([header], rows):
        writer.writerow([csv_cell(cell) for cell in row])
        response.write(line.getvalue()[:-2] + "\n")
        line.seek(0)
        line.truncate()
    return response
