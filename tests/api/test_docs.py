"""The API guide lists every route the app serves, and only those."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import create_engine

from patron.api.app import create_app

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_every_route_is_in_the_api_guide() -> None:
    documented = set(re.findall(r"`(GET|POST|PATCH|DELETE|PUT) (/[^`]*)`", GUIDE.read_text()))
    schema = create_app(engine=create_engine("sqlite://")).openapi()
    served = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
    }
    assert served - documented == set()
    assert documented - served == set()
