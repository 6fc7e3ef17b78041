"""CSV cells a spreadsheet shows as text: every CSV the portal writes goes through
`spreadsheet_rows`, so no cell of remote text or of what people typed runs as a formula."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

# A spreadsheet runs a cell beginning with one of these as a formula (OWASP, CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(cell: str) -> str:
    """`cell` as a spreadsheet must show it: text, never a formula (a leading quote, per OWASP)."""
    return f"'{cell}" if cell.startswith(FORMULA_TRIGGERS) else cell


def spreadsheet_rows(rows: Iterable[list[str]]) -> Iterator[list[str]]:
    """`rows` with every cell safe to open in a spreadsheet."""
    for row in rows:
        yield [spreadsheet_text(cell) for cell in row]
