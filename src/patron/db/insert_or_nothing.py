"""`INSERT ... ON CONFLICT (...) DO NOTHING RETURNING ...` built once per table.

SQLAlchemy 2.0 cannot cache the compiled form of its dialect `on_conflict_do_nothing`
constructs, so using them on the hot path recompiles the statement on every call. The same
SQL as a typed `text()` construct is compiled once. Both SQLite (>= 3.35) and PostgreSQL
accept this syntax; on PostgreSQL a concurrent insert of the same key waits for the other
transaction and then does nothing.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table, TextClause, bindparam, text


@cache
def insert_or_nothing(
    table: Table,
    columns: tuple[str, ...],
    conflict: tuple[str, ...],
    returning: str,
    rows: int = 1,
) -> TextClause:
    """A statement inserting `rows` rows of `columns` unless a row with the same
    `conflict` columns exists; returns `returning` of each new row (none for the others).

    With one row, parameters are bound by column name; with several, as
    ``<column>_<row number>`` (see `many_params`)."""
    names = ", ".join(columns)
    suffixes = [""] if rows == 1 else [f"_{number}" for number in range(rows)]
    values = ", ".join(
        "(" + ", ".join(f":{column}{suffix}" for column in columns) + ")" for suffix in suffixes
    )
    sql = (
        f"INSERT INTO {table.name} ({names}) VALUES {values} "
        f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING {returning}"
    )
    typed = [
        bindparam(f"{column}{suffix}", type_=table.c[column].type)
        for suffix in suffixes
        for column in columns
    ]
    return text(sql).bindparams(*typed)


def many_params(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Flatten rows into the parameters of a multi-row `insert_or_nothing`."""
    if len(rows) == 1:
        return rows[0]
    return {
        f"{key}_{number}": value for number, row in enumerate(rows) for key, value in row.items()
    }
