"""CSV cells a spreadsheet opens safely: one that starts like a formula is written as text.

Every CSV the API writes (the interactions export, the reports) passes its rows through
`neutralised`, so a contact or agent named `=HYPERLINK(...)` shows as that text instead of running.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# A cell a spreadsheet would run as a formula (or one a formula could be smuggled behind).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(row: Iterable[object]) -> Sequence[object]:
    """The cells, each text cell a spreadsheet would run as a formula prefixed with `'`."""
    return [f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell for cell in row]
