"""The Alembic migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine

from patron.db.migrate import alembic_config


def test_migrated_schema_matches_the_tables(engine: Engine) -> None:
    # alembic check raises if autogenerate would find anything to change
    command.check(alembic_config(engine.url.render_as_string(hide_password=False)))
