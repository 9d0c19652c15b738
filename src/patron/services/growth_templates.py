"""Templates of the growth programs: paid memberships, charity, coalition.

Each entry's builders live with its feature (e.g. `services/memberships.py`); this module
only lists them, so `services/templates.py` can offer them with the core templates.
"""

from __future__ import annotations

from patron.services.charity_templates import BEAUTY_CHARITY
from patron.services.coalition_templates import HOME_COALITION
from patron.services.membership_templates import BOOKSTORE, COOP_LIFETIME, PHARMACY_PLUS
from patron.services.templates import Template

TEMPLATES: dict[str, Template] = {
    BEAUTY_CHARITY.name: BEAUTY_CHARITY,
    BOOKSTORE.name: BOOKSTORE,
    PHARMACY_PLUS.name: PHARMACY_PLUS,
    COOP_LIFETIME.name: COOP_LIFETIME,
    HOME_COALITION.name: HOME_COALITION,
}
