"""Segments: saved filters over members, evaluated in SQL.

(Stub: the segments engineer replaces this module; keep `segments_of`'s contract.)
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from patron.db.uow import UnitOfWork
from patron.domain.program import Program


def segments_of(
    uow: UnitOfWork,
    program: Program,
    member_ids: list[int],
    codes: Collection[str],
    at: datetime,
) -> dict[int, set[str]]:
    """Which of the segments `codes` each of `member_ids` is in at `at` (members in none
    are left out). A fixed number of queries whatever the number of members; no query at
    all when `codes` or `member_ids` is empty. Unknown codes match nobody."""
    return {}
