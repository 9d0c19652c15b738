"""`INSERT ... ON CONFLICT (...) DO NOTHING RETURNING ...` built once per table.

SQLAlchemy 2.0 cannot cache the compiled form of its dialect `on_conflict_do_nothing`
constructs, so using them on the hot path recompiles the statement on every call. The same
SQL as a typed `text()` construct is compiled once. Both SQLite (>= 3.35) and PostgreSQL
accept this syntax; on PostgreSQL a concurrent insert of the same key waits for the other
transaction and then does nothing.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Table, TextClause, bindparam, text


@cache
def insert_or_nothing(
    table: Table, columns: tuple[str, ...], conflict: tuple[str, ...], returning: str
) -> TextClause:
    """A statement inserting `columns` (bound by name) unless a row with the same
    `conflict` columns exists; returns `returning` of the new row, or no row."""
    names = ", ".join(columns)
    values = ", ".join(f":{column}" for column in columns)
    sql = (
        f"INSERT INTO {table.name} ({names}) VALUES ({values}) "
        f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING {returning}"
    )
    typed = [bindparam(column, type_=table.c[column].type) for column in columns]
    return text(sql).bindparams(*typed)
