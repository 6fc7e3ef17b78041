"""How a transactional test's database is emptied on PostgreSQL: DELETE, not TRUNCATE.

Django's flush truncates every table, and PostgreSQL's TRUNCATE of the portal's fifty-odd
tables took 1 to 3 s after every transactional test (each table gets new files), where deleting
the few rows a test wrote takes milliseconds. The flush runs in one transaction and Django makes
every foreign key DEFERRABLE INITIALLY DEFERRED, so the order of the DELETEs does not matter.
A table emptied by DELETE keeps its size on disk, so PostgreSQL's estimate of its rows: a test
that fills one with a big table's rows truncates it itself (test_estimated_counts.py).
"""

from __future__ import annotations

import pytest
from django.db.backends.postgresql.operations import DatabaseOperations

_truncate = DatabaseOperations.sql_flush


def _sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
    if reset_sequences or allow_cascade:  # what only TRUNCATE does (RESTART IDENTITY, CASCADE)
        return _truncate(
            self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
    delete = style.SQL_KEYWORD("DELETE FROM")
    return [f"{delete} {style.SQL_FIELD(self.quote_name(table))};" for table in tables]


def delete_instead_of_truncate(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(DatabaseOperations, "sql_flush", _sql_flush)
