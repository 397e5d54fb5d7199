"""What the features' types share: the resolvers' Info, the domain's enums, and UserError (docs/api.md §3)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

import strawberry
from strawberry.types import Info
from strawberry.types.enum import StrawberryEnumDefinition

from domain import model
from graph.context import Context

I = Info[Context, None]  # noqa: E741

# Descriptions every mutation shares.
ERRORS = (
    "Why the mutation was refused, each with a stable code; empty when it was done. With errors nothing was written."
)
IDEMPOTENCY_KEY = (
    "1–200 characters. A repeat with the same key and input (a retry after a lost answer) does not run again: it "
    "answers the first call's errors and the object as it is now. Kept 24 hours for each channel, subject and "
    "mutation; the same key with another input is IDEMPOTENCY_KEY_REUSED."
)


def idempotency_key() -> Any:
    """The `idempotencyKey` field of a mutation's input."""
    return strawberry.field(default=None, description=IDEMPOTENCY_KEY)


def enum_type(cls: type[enum.Enum], description: str, values: Mapping[str, str], name: str | None = None) -> None:
    """Registers a domain enum with Strawberry under its own name (or `name`), with its description and one for
    each value.

    The domain imports no framework, so its enums cannot use `strawberry.enum_value`: the descriptions are set on
    the value definitions Strawberry made from the class instead. Every value needs one, and only values have.
    """
    strawberry.enum(cls, name=name or cls.__name__, description=description)
    definition = getattr(cls, "__strawberry_definition__")  # noqa: B009 (set by strawberry.enum above)
    assert isinstance(definition, StrawberryEnumDefinition)
    names = {v.name for v in definition.values}
    if names != set(values):
        raise TypeError(f"{cls.__name__}: descriptions for {sorted(set(values))}, values {sorted(names)}")
    definition.values = [dataclasses.replace(v, description=values[v.name]) for v in definition.values]


# The domain's enums, registered with Strawberry once; annotations use the domain classes themselves.
Role = model.Role
Language = model.Language
GroupType = model.GroupType
Ownership = model.Ownership
PriorityTier = model.PriorityTier
PriorityCategory = model.PriorityCategory
ClaimStatus = model.ClaimStatus
ApplicationStatus = model.ApplicationStatus
OfferStatus = model.OfferStatus
ErrorCode = model.ErrorCode

enum_type(
    Role,
    "Who the caller is, from the token its channel signed (the token's `role` claim is written in lower case).",
    {
        "CITIZEN": "A parent or another legal representative: their own children, applications, offers, contracts.",
        "KINDERGARTEN_STAFF": "The head of one kindergarten: its groups' capacities, and children who leave it.",
        "AKIMAT_OPERATOR": "An akimat's education department, for a region or one district of it: that area's "
        "kindergartens, groups, priority claims, applications and figures.",
        "MINISTRY": "National analysts: read everything across the country, change nothing.",
    },
)
enum_type(
    Language,
    "A language: of a group's instruction, of what an application waits for, of SMS and contracts.",
    {"KK": "Kazakh.", "RU": "Russian.", "EN": "English."},
)
enum_type(
    GroupType,
    "The kind of group; a child waits only for groups of its application's type.",
    {
        "GENERAL": "An ordinary group.",
        "SPECIAL": "A correctional group, for children with special educational needs.",
        "SANATORIUM": "A sanatorium group, for children who need health care.",
    },
)
enum_type(
    Ownership,
    "Who owns a kindergarten.",
    {"STATE": "A state kindergarten.", "PRIVATE": "A private kindergarten; it may still work under a state order."},
)
enum_type(
    PriorityTier,
    "Where priority puts an application in every queue: the first rule of the queue order. An application's tier "
    "is the best its VERIFIED claims give.",
    {
        "EXTRAORDINARY": "Extraordinary right (внеочередное право): children of servicemen and of employees of "
        "special state bodies. Always offered a seat first.",
        "PRIMARY": "First-priority right (первоочередное право): a parent with a disability, orphans, large "
        "families, special educational needs, a child with a disability, teachers' children.",
        "GENERAL": "No verified priority.",
    },
)
enum_type(
    PriorityCategory,
    "A priority category (льгота) the benefits registry reports for the child or a legal representative.",
    {
        "MILITARY": "A child of a serviceman, including one who died or went missing in service (EXTRAORDINARY; "
        "a closed registry: verified by an operator by hand).",
        "SPECIAL_STATE_BODY": "A child of an employee of a special state body (EXTRAORDINARY; a closed registry: "
        "verified by an operator by hand).",
        "DISABLED_PARENT": "A parent with a disability (PRIMARY).",
        "ORPHAN": "An orphan or a child without parental care (PRIMARY).",
        "LARGE_FAMILY": "A child of a large family (PRIMARY).",
        "SPECIAL_NEEDS": "A child with special educational needs (PRIMARY).",
        "DISABLED_CHILD": "A child with a disability (PRIMARY).",
        "TEACHER_CHILD": "A teacher's child (PRIMARY).",
    },
)
enum_type(
    ClaimStatus,
    "Where a priority claim stands; only VERIFIED claims count for the tier.",
    {
        "VERIFIED": "Confirmed by the registry or by an operator: counts for the tier.",
        "PENDING_MANUAL": "Waits for an operator's decision until its manualDeadline; does not count yet.",
        "REJECTED": "An operator said no.",
        "EXPIRED": "No operator decided in time; an operator may still approve or reject it, which re-opens it.",
        "REVOKED": "Was verified, then found false by an operator: the tier was recomputed.",
    },
)
enum_type(
    ApplicationStatus,
    "Where an application stands.",
    {
        "QUEUED": "Waiting in the queues of its choices; holds no seat.",
        "OFFERED": "Holds a PENDING offer: the parent is to answer by its respondBy.",
        "ENROLLING": "Holds a CONFIRMED offer: the contract waits for the parent's signature.",
        "ENROLLED": "The child is enrolled through it; it still waits for the kindergartens ranked above, if any.",
        "INACTIVE": "An offer lapsed, unanswered or its contract unsigned: out of every queue, restorable once.",
        "WITHDRAWN": "Final: a parent or an operator ended the wait.",
        "CLOSED": "Final: declined under ANNUL, no choice left, not restored in time, or the child left.",
        "AGED_OUT": "Final: the child reached school age (1 September of the year they turn 6) while waiting.",
    },
)
enum_type(
    OfferStatus,
    "Where a seat offer stands; an offer only moves forward (PENDING, CONFIRMED, ENROLLED) or ends.",
    {
        "PENDING": "Live: the seat is kept; waits for the parent's answer until respondBy.",
        "CONFIRMED": "Live: the contract is issued and waits for the signature until respondBy.",
        "DECLINED": "The parent said no; the seat went to the next child.",
        "LAPSED": "The deadline passed with no answer or no signature.",
        "SUPERSEDED": "Replaced by an offer from a kindergarten the family ranked higher.",
        "CANCELLED": "Ended because the application was withdrawn, its priority revoked, or the child left.",
        "ENROLLED": "Signed: the child is enrolled.",
    },
)
enum_type(
    ErrorCode,
    "Why a mutation refused: stable, so that apps choose what to show a parent from it.",
    {
        "INVALID_INPUT": "The input breaks a rule: no kindergarten, a past start date, a malformed phone, a blank "
        "reason or note that is required, a capacity out of range, a malformed idempotency key, text with NUL.",
        "INVALID_IIN": "The IIN fails its check digit or its date.",
        "NOT_FOUND": "No such object, or one the caller may not see; a child the population registry does not know.",
        "DUPLICATE_APPLICATION": "The child already has an active application; the message names its number.",
        "NOT_LEGAL_REPRESENTATIVE": "The caller is not the child's legal representative in the population registry.",
        "AGE_OUT_OF_RANGE": "The start date is on or after 1 September of the year the child turns 6.",
        "TOO_MANY_CHOICES": "More than four kindergartens.",
        "DUPLICATE_CHOICE": "A kindergarten listed twice.",
        "NO_SUITABLE_GROUP": "A chosen kindergarten has no group for the child's birth year, language and type.",
        "INVALID_STATE": "The object's state does not allow it: choices changed while an offer is live, a second "
        "withdrawal or extension, a claim decided already, a call with the same idempotency key still running.",
        "DEADLINE_PASSED": "The offer's or the contract's deadline, or the restore window, has passed.",
        "CAPACITY_BELOW_OCCUPIED": "The new capacity is below the group's enrolled + held seats.",
        "INVALID_SIGNATURE": "The e-signature service does not accept the signature.",
        "SIBLINGS_NOT_LINKABLE": "The applications may not be linked into a sibling group.",
        "REGISTRY_UNAVAILABLE": "A state registry or the e-signature service did not answer; nothing was written.",
        "IDEMPOTENCY_KEY_REUSED": "The idempotency key was used before with another input.",
        "FORBIDDEN": "The caller's role may not do this; role refusals come as top-level errors in practice.",
    },
)


@strawberry.type(description="An expected refusal of a mutation: a stable code, a message, the input field at fault.")
class UserError:
    code: ErrorCode = strawberry.field(description="Stable: what an app decides on.")
    message: str = strawberry.field(description="An English sentence for developers and logs, not for parents.")
    field: str | None = strawberry.field(
        default=None, description="The input field at fault (childIin, kindergartenIds, …), when one is."
    )
