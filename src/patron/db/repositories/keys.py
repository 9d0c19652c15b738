"""API keys: stored as a SHA-256 of the secret, looked up by their public key id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.engine import Connection

from patron.db.tables import api_keys


class KeyRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def create(
        self,
        *,
        tenant_id: int,
        brand_id: int | None,
        key_id: str,
        secret_hash: str,
        scopes: str,
        name: str,
        now: datetime,
    ) -> int:
        result = self._c.execute(
            insert(api_keys).values(
                tenant_id=tenant_id,
                brand_id=brand_id,
                key_id=key_id,
                secret_hash=secret_hash,
                scopes=scopes,
                name=name,
                created_at=now,
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def find(self, key_id: str) -> Row[Any] | None:
        return self._c.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()

    def of_tenant(self, tenant_id: int) -> list[Row[Any]]:
        query = select(api_keys).where(api_keys.c.tenant_id == tenant_id).order_by(api_keys.c.id)
        return list(self._c.execute(query))

    def revoke(self, tenant_id: int, key_id: str, now: datetime) -> bool:
        """Revoke a key of `tenant_id`; False if it does not exist or is already revoked."""
        result = self._c.execute(
            update(api_keys)
            .where(
                api_keys.c.tenant_id == tenant_id,
                api_keys.c.key_id == key_id,
                api_keys.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return result.rowcount == 1
