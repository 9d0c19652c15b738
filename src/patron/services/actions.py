"""Action events (signup, newsletter, review, birthday, social follow, share, custom):
recorded exactly once by their source id, and awarded by the earning rules of their
trigger. Points for actions are available at once (there is nothing to return).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError, best_match

from patron.db.uow import UnitOfWork
from patron.domain.errors import Conflict, InvalidInput, NotFound
from patron.domain.program import Program
from patron.domain.rules import EventFacts, Trigger
from patron.schemas.events import ActionEventIn, ActionResult
from patron.schemas.members import MemberProfile
from patron.schemas.rules import EventTypeIn, EventTypeView
from patron.services.awarding import award_action
from patron.services.brands import resolve_brand
from patron.services.context import Caller, require_active_brand
from patron.services.members import add_member
from patron.services.orders import claim_event


def record_action(
    uow: UnitOfWork, caller: Caller, program: Program, action: ActionEventIn, now: datetime
) -> ActionResult:
    """Record an action once and award what the rules give; raises Replayed on a repeat."""
    event_type = _event_type(uow, program, action)
    brand_id = resolve_brand(uow, caller, action.brand)
    member, enrolled = _member(uow, program, action, now)
    event_id = claim_event(
        uow,
        program,
        source=action.source,
        type_=event_type,
        source_id=action.event_id,
        brand_id=brand_id,
        payload=action.model_dump(mode="json"),
        occurred_at=action.occurred_at,
        now=now,
    )  # a replay stops here, even for a brand that has left since
    require_active_brand(caller, brand_id)
    facts = EventFacts(
        trigger=action.type,
        event_type=action.event_type,
        occurred_at=action.occurred_at,
        brand=uow.tenants.brand_code(brand_id),
        channel=action.channel,
        payload=action.payload,
        order=None,
    )
    points, tx_id, explanation = award_action(
        uow, program, member, brand_id, event_id, facts, now, api_key_id=caller.api_key_id
    )
    result = ActionResult(
        event_id=event_id,
        type=event_type,
        source_id=action.event_id,
        customer_id=action.customer_id,
        member_enrolled=enrolled,
        points=points,
        transaction_id=tx_id,
        explanation=explanation,
    )
    uow.events.set_results([(event_id, member.id, result.model_dump(mode="json"))])
    return result


def _event_type(uow: UnitOfWork, program: Program, action: ActionEventIn) -> str:
    """The stored event type; a custom event's payload is checked against its schema."""
    if action.type is Trigger.ORDER_PAID:
        raise InvalidInput("orders are recorded through POST /v1/orders", field="type")
    if action.type is not Trigger.CUSTOM:
        if action.event_type is not None:
            raise InvalidInput("only custom events name an event_type", field="event_type")
        return action.type.value
    if action.event_type is None:
        raise InvalidInput("a custom event names its event_type", field="event_type")
    row = uow.rules.event_type(program.id, action.event_type)
    if row is None:
        raise NotFound(f"no event type {action.event_type!r}", field="event_type")
    validator = jsonschema.Draft202012Validator(row.payload_schema)
    error = best_match(validator.iter_errors(action.payload))
    if error is not None:
        path = ".".join(str(part) for part in error.absolute_path)
        raise InvalidInput(
            f"payload does not match {action.event_type!r}: {error.message}",
            field="payload" + (f".{path}" if path else ""),
        )
    return f"custom.{action.event_type}"


def _member(
    uow: UnitOfWork, program: Program, action: ActionEventIn, now: datetime
) -> tuple[Any, bool]:
    member = uow.members.get(program.id, action.customer_id)
    if member is not None:
        return member, False
    if not program.auto_enroll:
        raise NotFound(
            f"no member {action.customer_id!r} and the program does not enrol automatically",
            field="customer_id",
        )
    profile = action.customer or MemberProfile()
    # A signup event that enrols its customer is itself the signup: it is awarded once,
    # as this event, not also as the enrolment.
    signup = action.type is not Trigger.SIGNUP
    member_id = add_member(uow, program, profile, action.customer_id, now, signup=signup)
    return uow.members.get_by_id(member_id), True


def create_event_type(
    uow: UnitOfWork, caller: Caller, program: Program, spec: EventTypeIn, now: datetime
) -> EventTypeView:
    """Define a custom event type; its schema must be a valid JSON schema (422 if not)."""
    try:
        jsonschema.Draft202012Validator.check_schema(spec.payload_schema)
    except SchemaError as error:
        raise InvalidInput(
            f"not a valid JSON schema: {error.message}", field="payload_schema"
        ) from None
    if uow.rules.event_type(program.id, spec.name) is not None:
        raise Conflict(f"event type {spec.name!r} exists", field="name")
    uow.rules.add_event_type(
        tenant_id=caller.tenant_id,
        program_id=program.id,
        name=spec.name,
        description=spec.description,
        payload_schema=spec.payload_schema,
        created_at=now,
    )
    return EventTypeView(
        name=spec.name, description=spec.description, payload_schema=spec.payload_schema
    )


def list_event_types(uow: UnitOfWork, program: Program) -> list[EventTypeView]:
    return [
        EventTypeView(name=row.name, description=row.description, payload_schema=row.payload_schema)
        for row in uow.rules.event_types(program.id)
    ]
