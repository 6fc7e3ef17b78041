"""Many rows' columns updated in one statement, each row to its own values.

Django's `bulk_update` writes a CASE WHEN per column and row; building that statement for a few
hundred rows takes longer than running it (seconds of Python a batch). This writes the same
update as `WITH v(...) AS (VALUES ...) UPDATE ... FROM v`, which PostgreSQL and SQLite (3.33 on)
both run, the values prepared by each field as Django prepares them.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, models

# Parameters per statement: a column of a row each, under SQLite's oldest limit of 999.
PARAMETERS = 999


def update_rows(rows: Sequence[models.Model], field_names: Sequence[str]) -> int:
    """Write `field_names` of each of `rows` (instances of one model) as they hold them;
    returns how many rows were updated."""
    if not rows:
        return 0
    model = type(rows[0])
    meta = model._meta
    fields = [meta.pk, *(meta.get_field(name) for name in field_names)]
    connection = connections[model.objects.db]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = [quote(field.column) for field in fields]
    other = ", ".join(["%s"] * len(fields))
    first = other
    if connection.vendor == "postgresql":
        # PostgreSQL types a VALUES list by its first row: cast it as the columns are. (Not
        # SQLite, whose CAST to a date reads a number out of it.)
        first = ", ".join(f"CAST(%s AS {field.cast_db_type(connection)})" for field in fields)
    per_statement = PARAMETERS // len(fields)
    assignments = ", ".join(f"{column} = v.{column}" for column in columns[1:])
    same_row = f"{table}.{columns[0]} = v.{columns[0]}"
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            values = ", ".join([f"({first})"] + [f"({other})"] * (len(chunk) - 1))
            params = [
                field.get_db_prep_save(getattr(row, field.attname), connection)
                for row in chunk
                for field in fields
            ]
            # Names come from the model, every value is a parameter.
            cursor.execute(
                f"WITH v ({', '.join(columns)}) AS (VALUES {values}) "  # noqa: S608
                f"UPDATE {table} SET {assignments} FROM v WHERE {same_row}",
                params,
            )
            updated += cursor.rowcount
    return updated
