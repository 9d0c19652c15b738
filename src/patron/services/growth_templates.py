"""Templates of the growth programs: paid memberships, charity, coalition.

Each entry's builders live with its feature (e.g. `services/memberships.py`); this module
only lists them, so `services/templates.py` can offer them with the core templates.
"""

from __future__ import annotations

from patron.services.templates import Template

TEMPLATES: dict[str, Template] = {}
