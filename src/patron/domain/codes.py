"""Coupon codes: unique, unguessable, easy to read aloud and type."""

from __future__ import annotations

import secrets

# Crockford's base32 without I, L, O, U: no 0/O or 1/I/L confusion at a till.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_code(prefix: str = "", length: int = 12) -> str:
    """A random code of `length` symbols (5 bits each: 12 symbols = 60 bits) after `prefix`."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(length))
    return f"{prefix}{body}"
