"""Several small reads in one query: a lane of the home page costs one round trip, not one per
rule or kind it reads.

Each part is a `values_list` queryset, ordered and sliced (its first rows through its own
index); they are joined by UNION ALL, each in a subquery of its own so that its ORDER BY and
LIMIT hold. Django's `union()` cannot say this on SQLite (it refuses a sliced part there).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet


def read_each(parts: Sequence[QuerySet]) -> list[list[tuple]]:
    """Each part's rows, as its `values_list` would give them, read in one query."""
    compilers, selects, params = {}, [], []
    for n, part in enumerate(parts):
        compiler = part.query.get_compiler(part.db)
        try:
            sql, part_params = compiler.as_sql()
        except EmptyResultSet:  # a filter on an empty list: no rows, no SQL
            continue
        compilers[n] = compiler
        # The ORM's own SQL, its parameters passed apart.
        selects.append(f"SELECT {n} AS part, q{n}.* FROM ({sql}) q{n}")  # noqa: S608
        params.extend(part_params)
    found: list[list] = [[] for _ in parts]
    if not selects:
        return found
    with connections[parts[0].db].cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), params)
        for part, *values in cursor.fetchall():
            found[part].append(values)
    # Converted as the ORM converts its own rows (dates on SQLite, for instance).
    return [
        [tuple(row) for row in compilers[n].results_iter(results=[rows])] if n in compilers else []
        for n, rows in enumerate(found)
    ]
