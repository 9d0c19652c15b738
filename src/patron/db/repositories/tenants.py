"""Tenants and their brands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.engine import Connection

from patron.db.tables import brands, tenants


class TenantRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def create(self, name: str, now: datetime) -> int:
        result = self._c.execute(insert(tenants).values(name=name, created_at=now))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def get_by_name(self, name: str) -> Row[Any] | None:
        return self._c.execute(select(tenants).where(tenants.c.name == name)).first()

    def create_brand(self, tenant_id: int, code: str, name: str, now: datetime) -> int:
        result = self._c.execute(
            insert(brands).values(tenant_id=tenant_id, code=code, name=name, created_at=now)
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def get_brand(self, tenant_id: int, code: str) -> Row[Any] | None:
        query = select(brands).where(brands.c.tenant_id == tenant_id, brands.c.code == code)
        return self._c.execute(query).first()

    def default_brand(self, tenant_id: int) -> Row[Any] | None:
        """The tenant's first brand: the one events name when they name none."""
        query = select(brands).where(brands.c.tenant_id == tenant_id).order_by(brands.c.id)
        return self._c.execute(query.limit(1)).first()

    def brand_code(self, brand_id: int) -> str:
        """The code of the brand with id `brand_id` (which must exist)."""
        return str(
            self._c.execute(select(brands.c.code).where(brands.c.id == brand_id)).scalar_one()
        )

    def list_brands(self, tenant_id: int) -> list[Row[Any]]:
        query = select(brands).where(brands.c.tenant_id == tenant_id).order_by(brands.c.id)
        return list(self._c.execute(query))
