"""Query and Mutation roots, and the schema with its limits (API.md §3, QUALITY §4)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from graphql import ASTValidationRule, GraphQLError, ValidationRule
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as create_alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as create_depth_validator
from strawberry.schema.config import StrawberryConfig

from domain import access, inputs
from domain.commands import NewGroup, NewKindergarten, SubmitApplication
from domain.errors import DomainError, RegistryUnavailable
from domain.model import Actor, ErrorCode, Role
from graph.access import can_see_application, can_see_child, require_role
from graph.errors import api_error, forbidden, not_found, should_mask
from graph.limits import CostLimitRule
from graph.shared import SharedSchema
from graph.subscriptions import Subscription
from graph.types import (
    ApplicationNode,
    AreaStats,
    ChildNode,
    DistrictType,
    EnrollmentNode,
    GroupNode,
    GroupType,
    I,
    KindergartenConnection,
    KindergartenEdge,
    KindergartenNode,
    Language,
    OfferNode,
    Ownership,
    PageInfo,
    PriorityClaimConnection,
    PriorityClaimEdge,
    PriorityClaimNode,
    QueueEntry,
    QueueEntryConnection,
    QueueEntryEdge,
    RegionType,
    SentMessage,
    UserError,
    Viewer,
    WaitingByBirthYear,
    application_node,
)
from persistence.readers import decode_cursor

MAX_PAGE = 100
MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 3000
_LIMIT_RULES: tuple[type[ValidationRule], ...] = (
    create_depth_validator(MAX_DEPTH, None),
    create_alias_validator(MAX_ALIASES),
    CostLimitRule,
)


def _page_size(first: int | None) -> int:
    if first is None:
        return 20
    if first < 0 or first > MAX_PAGE:
        raise api_error("INVALID_INPUT", f"first must be between 0 and {MAX_PAGE}")
    return first


def _cursor(after: str | None) -> Any:
    try:
        return decode_cursor(after)
    except ValueError:
        raise api_error("INVALID_INPUT", "malformed cursor") from None


def _id_cursor(after: str | None) -> int | None:
    """The cursor of an id-ordered connection: an id within bigint range, else INVALID_INPUT."""
    cursor = _cursor(after)
    if cursor is not None and not (type(cursor) is int and 0 <= cursor < 2**63):
        raise api_error("INVALID_INPUT", "malformed cursor")
    return int(cursor) if cursor is not None else None


def _check_year(year: int) -> None:
    if not 2000 <= year <= 2100:
        raise api_error("INVALID_INPUT", "birthYear must be a year between 2000 and 2100")


def _int_id(value: str) -> int | None:
    return inputs.object_id(value)


@strawberry.input
class KindergartenFilter:
    region_code: str | None = None
    district_code: str | None = None
    language: Language | None = None
    birth_year: int | None = None
    has_free_seats: bool | None = None
    search: str | None = None
    group_type: GroupType | None = None


@strawberry.type
class Query:
    @strawberry.field
    async def viewer(self, info: I) -> Viewer:
        a = info.context.actor
        kg = None
        if a.kindergarten:
            found = await info.context.services.reader.kindergarten_ids_by_external([a.kindergarten])
            if found:
                kg_model = await info.context.loaders.kindergarten_by_id.load(found[0])
                kg = KindergartenNode(m=kg_model) if kg_model else None
        return Viewer(
            role=a.role,
            channel=a.channel,
            subject=a.subject,
            region_code=a.region_code,
            district_code=a.district_code,
            kindergarten=kg,
        )

    @strawberry.field(description="The caller's children in the population registry.")
    async def my_children(self, info: I) -> list[ChildNode]:
        actor = require_role(info, Role.CITIZEN)
        try:
            iins = await info.context.services.queue.my_children(actor)
        except RegistryUnavailable:
            raise api_error("REGISTRY_UNAVAILABLE", "the population registry is unavailable") from None
        persons = await info.context.loaders.person_by_iin.load_many(iins)
        return [ChildNode(m=p, own=True) for p in persons if p is not None]

    @strawberry.field
    async def child(self, info: I, iin: str) -> ChildNode | None:
        require_role(info, Role.CITIZEN, Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR, Role.MINISTRY)
        person = await info.context.loaders.person_by_iin.load(iin.strip())
        if person is None or not await can_see_child(info, person.iin):
            raise not_found("child")
        return ChildNode(m=person)

    @strawberry.field
    async def application(self, info: I, id: strawberry.ID) -> ApplicationNode | None:
        require_role(info, Role.CITIZEN, Role.AKIMAT_OPERATOR, Role.MINISTRY)
        app_id = _int_id(id)
        app = await info.context.loaders.application_by_id.load(app_id) if app_id else None
        if app is None or not await can_see_application(info, app):
            raise not_found("application")
        return await application_node(info, app)

    @strawberry.field
    async def application_by_number(self, info: I, number: str) -> ApplicationNode | None:
        require_role(info, Role.CITIZEN, Role.AKIMAT_OPERATOR, Role.MINISTRY)
        app = await info.context.loaders.application_by_number.load(number.strip().upper())
        if app is None or not await can_see_application(info, app):
            raise not_found("application")
        return await application_node(info, app)

    @strawberry.field
    async def regions(self, info: I) -> list[RegionType]:
        return [
            RegionType(code=r.code, name_kk=r.name_kk, name_ru=r.name_ru, districts=[DistrictType.of(d) for d in ds])
            for r, ds in await info.context.services.reader.regions()
        ]

    @strawberry.field
    async def kindergartens(
        self,
        info: I,
        filter: KindergartenFilter | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> KindergartenConnection:
        f = filter or KindergartenFilter()
        if f.birth_year is not None:
            _check_year(f.birth_year)
        cursor = _id_cursor(after)
        page = await info.context.services.reader.search_kindergartens(
            region=f.region_code,
            district=f.district_code,
            language=f.language,
            birth_year=f.birth_year,
            has_free_seats=f.has_free_seats,
            group_type=f.group_type,
            search=(f.search or "").strip()[:100] or None,
            first=_page_size(first),
            after=cursor,
        )
        return KindergartenConnection(
            edges=[
                KindergartenEdge(node=KindergartenNode(m=k), cursor=c)
                for k, c in zip(page.items, page.cursors, strict=True)
            ],
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.cursors[-1] if page.cursors else None),
        )

    @strawberry.field
    async def kindergarten(self, info: I, id: strawberry.ID) -> KindergartenNode | None:
        kg_id = _int_id(id)
        kg = await info.context.loaders.kindergarten_by_id.load(kg_id) if kg_id else None
        if kg is None:
            raise not_found("kindergarten")
        return KindergartenNode(m=kg)

    @strawberry.field(description="Anonymised queue in queue order: no names, no IINs.")
    async def public_queue(
        self,
        info: I,
        kindergarten_id: strawberry.ID,
        birth_year: int,
        language: Language,
        group_type: GroupType = GroupType.GENERAL,
        first: int | None = 20,
        after: str | None = None,
    ) -> QueueEntryConnection:
        kg_id = _int_id(kindergarten_id)
        kg = await info.context.loaders.kindergarten_by_id.load(kg_id) if kg_id else None
        if kg is None:
            raise not_found("kindergarten")
        _check_year(birth_year)
        cursor = _cursor(after)
        if cursor is not None and not (
            isinstance(cursor, list)
            and len(cursor) == 5
            and all(type(cursor[i]) is int and 0 <= cursor[i] < 2**63 for i in (0, 1, 2, 4))
            and isinstance(cursor[3], str)
        ):
            raise api_error("INVALID_INPUT", "malformed cursor")
        try:
            page = await info.context.services.reader.public_queue(
                kg.id, birth_year, language, group_type, _page_size(first), cursor
            )
        except (TypeError, ValueError):
            raise api_error("INVALID_INPUT", "malformed cursor") from None
        return QueueEntryConnection(
            edges=[
                QueueEntryEdge(
                    node=QueueEntry(
                        position=q.position,
                        application_number=q.application_number,
                        birth_year=q.birth_year,
                        tier=q.tier,
                        queue_date=q.queue_date,
                    ),
                    cursor=q.cursor,
                )
                for q in page.items
            ],
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.cursors[-1] if page.cursors else None),
        )

    @strawberry.field(description="PENDING_MANUAL claims of the operator's area.")
    async def priority_claims_to_verify(
        self, info: I, first: int | None = 20, after: str | None = None
    ) -> PriorityClaimConnection:
        actor = require_role(info, Role.AKIMAT_OPERATOR)
        cursor = _id_cursor(after)
        assert actor.region_code is not None
        page = await info.context.services.reader.claims_to_verify(
            actor.region_code,
            actor.district_code,
            _page_size(first),
            cursor,
        )
        return PriorityClaimConnection(
            edges=[
                PriorityClaimEdge(node=PriorityClaimNode(m=c), cursor=k)
                for c, k in zip(page.items, page.cursors, strict=True)
            ],
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.cursors[-1] if page.cursors else None),
        )

    @strawberry.field
    async def area_stats(self, info: I, region_code: str, district_code: str | None = None) -> AreaStats | None:
        actor = require_role(info, Role.AKIMAT_OPERATOR, Role.MINISTRY)
        if actor.role == Role.AKIMAT_OPERATOR:
            # An operator naming a district reads only it; a region-wide operator may narrow to a district.
            district_code = district_code or actor.district_code
            if not access.in_area(actor, region_code, district_code):
                raise not_found("area")
        f = await info.context.services.reader.area_figures(region_code, district_code)
        return AreaStats(
            waiting=f.waiting,
            waiting_by_birth_year=[
                WaitingByBirthYear(birth_year=w.birth_year, tier=w.tier, count=w.count) for w in f.by_birth_year
            ],
            capacity=f.capacity,
            enrolled=f.enrolled,
            held=f.held,
            free_seats=f.capacity - f.enrolled - f.held,
            live_offers=f.live_offers,
            median_wait_days=f.median_wait_days,
        )

    @strawberry.field(description="Development profile only: SMS recorded by the sandbox gateway.")
    async def sent_messages(self, info: I, phone: str) -> list[SentMessage]:
        services = info.context.services
        if not services.development or services.sandbox is None:
            raise forbidden()
        rows = await services.sandbox.sent_messages(phone.strip())
        return [
            SentMessage(id=r["id"], to=r["to"], text=r["text"], language=r["language"], created_at=r["created_at"])
            for r in rows
        ]


# --- mutations --------------------------------------------------------------------------------


@strawberry.input
class SubmitApplicationInput:
    child_iin: str
    kindergarten_ids: list[strawberry.ID]
    language: Language
    group_type: GroupType = GroupType.GENERAL
    desired_start_date: dt.date | None = None
    phone: str | None = None
    notification_language: Language = Language.RU
    idempotency_key: str | None = None


@strawberry.input
class ChangeChoicesInput:
    application_id: strawberry.ID
    kindergarten_ids: list[strawberry.ID]
    idempotency_key: str | None = None


@strawberry.input
class WithdrawApplicationInput:
    application_id: strawberry.ID
    reason: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class CreateKindergartenInput:
    external_id: str
    district_code: str
    name_kk: str
    name_ru: str
    address: str = ""
    ownership: Ownership = Ownership.STATE
    state_order: bool = False
    idempotency_key: str | None = None


@strawberry.input
class CreateGroupInput:
    kindergarten_id: strawberry.ID
    external_id: str
    birth_year_from: int
    birth_year_to: int
    language: Language
    group_type: GroupType = GroupType.GENERAL
    capacity: int = 0
    idempotency_key: str | None = None


@strawberry.input
class SetGroupCapacityInput:
    group_id: strawberry.ID
    capacity: int
    reason: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class VerifyPriorityClaimInput:
    claim_id: strawberry.ID
    approve: bool
    note: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class RevokePriorityClaimInput:
    claim_id: strawberry.ID
    note: str
    idempotency_key: str | None = None


@strawberry.type
class SubmitApplicationPayload:
    application: ApplicationNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ChangeChoicesPayload:
    application: ApplicationNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WithdrawApplicationPayload:
    application: ApplicationNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateKindergartenPayload:
    kindergarten: KindergartenNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateGroupPayload:
    group: GroupNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SetGroupCapacityPayload:
    group: GroupNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class VerifyPriorityClaimPayload:
    claim: PriorityClaimNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RevokePriorityClaimPayload:
    claim: PriorityClaimNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


P = TypeVar("P")


def _input_hash(data: Any) -> str:
    fields = {k: v for k, v in dataclasses.asdict(data).items() if k != "idempotency_key"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


async def _mutate(
    info: I,
    name: str,
    data: Any,
    roles: tuple[Role, ...],
    run: Callable[[Actor], Awaitable[int]],
    wrap: Callable[[int | None, list[UserError]], Awaitable[P]],
) -> P:
    """Runs one mutation: role gate, idempotency, and expected failures as payload errors."""
    actor = require_role(info, *roles)
    key = getattr(data, "idempotency_key", None)
    if key is None:
        object_id, errors = await _attempt(actor, run)
        return await wrap(object_id, errors)
    if not key.strip() or len(key) > 200:
        return await wrap(
            None, [UserError(code=ErrorCode.INVALID_INPUT, message="bad idempotencyKey", field="idempotencyKey")]
        )
    assert actor.channel is not None and actor.subject is not None
    store = info.context.services.idempotency
    scope = (actor.channel, actor.subject, name, key)
    digest = _input_hash(data)
    if not await store.claim(*scope, digest):
        remembered = await store.find(*scope)
        for _ in range(50):  # the first call may still be running: wait for its payload, up to 5 s
            if remembered is None or remembered[1] is not None:
                break
            await asyncio.sleep(0.1)
            remembered = await store.find(*scope)
        if remembered is not None and remembered[0] != digest:
            return await wrap(
                None,
                [
                    _error(
                        ErrorCode.IDEMPOTENCY_KEY_REUSED,
                        "this idempotencyKey was used with another input",
                        "idempotencyKey",
                    )
                ],
            )
        if remembered is None or remembered[1] is None:
            return await wrap(
                None,
                [_error(ErrorCode.INVALID_STATE, "a call with this idempotencyKey is still running", "idempotencyKey")],
            )
        payload = remembered[1]
        return await wrap(
            payload["id"],
            [UserError(code=ErrorCode(e["code"]), message=e["message"], field=e["field"]) for e in payload["errors"]],
        )
    try:
        object_id, errors = await _attempt(actor, run)
    except BaseException:
        await store.release(*scope)
        raise
    if errors and errors[0].code == ErrorCode.REGISTRY_UNAVAILABLE:
        await store.release(*scope)  # not remembered: a retry should try the registry again
    else:
        await store.complete(
            *scope,
            {
                "id": object_id,
                "errors": [{"code": e.code.value, "message": e.message, "field": e.field} for e in errors],
            },
        )
    return await wrap(object_id, errors)


def _error(code: ErrorCode, message: str, field: str | None = None) -> UserError:
    return UserError(code=code, message=message, field=field)


async def _attempt(actor: Actor, run: Callable[[Actor], Awaitable[int]]) -> tuple[int | None, list[UserError]]:
    try:
        return await run(actor), []
    except DomainError as exc:
        if exc.code == ErrorCode.FORBIDDEN:
            raise forbidden() from None
        return None, [_error(exc.code, exc.message, exc.field)]
    except RegistryUnavailable as exc:
        return None, [_error(ErrorCode.REGISTRY_UNAVAILABLE, f"{exc.service} is unavailable, try again later")]


async def _application(info: I, app_id: int | None) -> ApplicationNode | None:
    if app_id is None:
        return None
    app = await info.context.loaders.application_by_id.load(app_id)
    return ApplicationNode(m=app) if app and await can_see_application(info, app) else None


async def _group(info: I, group_id: int | None) -> GroupNode | None:
    group = await info.context.loaders.group_by_id.load(group_id) if group_id else None
    return GroupNode(m=group) if group else None


async def _claim(info: I, claim_id: int | None) -> PriorityClaimNode | None:
    found = await info.context.services.reader.claims_by_id([claim_id]) if claim_id else {}
    claim = found.get(claim_id) if claim_id else None
    return PriorityClaimNode(m=claim) if claim else None


@strawberry.input
class RestoreApplicationInput:
    application_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class ConfirmOfferInput:
    offer_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class DeclineOfferInput:
    offer_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class ExtendContractInput:
    offer_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class SignContractInput:
    contract_id: strawberry.ID
    signature: str
    idempotency_key: str | None = None


@strawberry.input
class LinkSiblingsInput:
    application_ids: list[strawberry.ID]
    idempotency_key: str | None = None


@strawberry.input
class LeaveKindergartenInput:
    child_iin: str
    reason: str | None = None
    idempotency_key: str | None = None


@strawberry.type
class RestoreApplicationPayload:
    application: ApplicationNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ConfirmOfferPayload:
    offer: OfferNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeclineOfferPayload:
    offer: OfferNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ExtendContractPayload:
    offer: OfferNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SignContractPayload:
    offer: OfferNode | None = None
    enrollment: EnrollmentNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LinkSiblingsPayload:
    applications: list[ApplicationNode] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LeaveKindergartenPayload:
    child: ChildNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def _offer(info: I, offer_id: int | None) -> OfferNode | None:
    offer = await info.context.loaders.offer_by_id.load(offer_id) if offer_id else None
    return OfferNode(m=offer) if offer else None


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def submit_application(self, info: I, input: SubmitApplicationInput) -> SubmitApplicationPayload:
        async def run(actor: Actor) -> int:
            app = await info.context.services.queue.submit_application(
                actor,
                SubmitApplication(
                    child_iin=input.child_iin,
                    kindergarten_ids=list(input.kindergarten_ids),
                    language=input.language,
                    group_type=input.group_type,
                    desired_start_date=input.desired_start_date,
                    phone=input.phone,
                    notification_language=input.notification_language,
                ),
            )
            return app.id

        async def wrap(i: int | None, e: list[UserError]) -> SubmitApplicationPayload:
            return SubmitApplicationPayload(application=await _application(info, i), errors=e)

        return await _mutate(info, "submitApplication", input, (Role.CITIZEN,), run, wrap)

    @strawberry.mutation
    async def change_choices(self, info: I, input: ChangeChoicesInput) -> ChangeChoicesPayload:
        async def run(actor: Actor) -> int:
            app = await info.context.services.queue.change_choices(
                actor, input.application_id, list(input.kindergarten_ids)
            )
            return app.id

        async def wrap(i: int | None, e: list[UserError]) -> ChangeChoicesPayload:
            return ChangeChoicesPayload(application=await _application(info, i), errors=e)

        return await _mutate(info, "changeChoices", input, (Role.CITIZEN,), run, wrap)

    @strawberry.mutation
    async def withdraw_application(self, info: I, input: WithdrawApplicationInput) -> WithdrawApplicationPayload:
        async def run(actor: Actor) -> int:
            app = await info.context.services.queue.withdraw_application(actor, input.application_id, input.reason)
            return app.id

        async def wrap(i: int | None, e: list[UserError]) -> WithdrawApplicationPayload:
            return WithdrawApplicationPayload(application=await _application(info, i), errors=e)

        return await _mutate(info, "withdrawApplication", input, (Role.CITIZEN, Role.AKIMAT_OPERATOR), run, wrap)

    @strawberry.mutation
    async def create_kindergarten(self, info: I, input: CreateKindergartenInput) -> CreateKindergartenPayload:
        async def run(actor: Actor) -> int:
            return await info.context.services.queue.create_kindergarten(
                actor,
                NewKindergarten(
                    external_id=input.external_id.strip(),
                    district_code=input.district_code.strip(),
                    name_kk=input.name_kk.strip(),
                    name_ru=input.name_ru.strip(),
                    address=input.address.strip(),
                    ownership=input.ownership,
                    state_order=input.state_order,
                ),
            )

        async def wrap(i: int | None, e: list[UserError]) -> CreateKindergartenPayload:
            kg = await info.context.loaders.kindergarten_by_id.load(i) if i else None
            return CreateKindergartenPayload(kindergarten=KindergartenNode(m=kg) if kg else None, errors=e)

        return await _mutate(info, "createKindergarten", input, (Role.AKIMAT_OPERATOR,), run, wrap)

    @strawberry.mutation
    async def create_group(self, info: I, input: CreateGroupInput) -> CreateGroupPayload:
        async def run(actor: Actor) -> int:
            return await info.context.services.queue.create_group(
                actor,
                NewGroup(
                    kindergarten_id=input.kindergarten_id,
                    external_id=input.external_id.strip(),
                    birth_year_from=input.birth_year_from,
                    birth_year_to=input.birth_year_to,
                    language=input.language,
                    group_type=input.group_type,
                    capacity=input.capacity,
                ),
            )

        async def wrap(i: int | None, e: list[UserError]) -> CreateGroupPayload:
            return CreateGroupPayload(group=await _group(info, i), errors=e)

        return await _mutate(info, "createGroup", input, (Role.AKIMAT_OPERATOR,), run, wrap)

    @strawberry.mutation
    async def set_group_capacity(self, info: I, input: SetGroupCapacityInput) -> SetGroupCapacityPayload:
        async def run(actor: Actor) -> int:
            return await info.context.services.queue.set_group_capacity(
                actor, input.group_id, input.capacity, input.reason
            )

        async def wrap(i: int | None, e: list[UserError]) -> SetGroupCapacityPayload:
            return SetGroupCapacityPayload(group=await _group(info, i), errors=e)

        return await _mutate(
            info, "setGroupCapacity", input, (Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR), run, wrap
        )

    @strawberry.mutation
    async def verify_priority_claim(self, info: I, input: VerifyPriorityClaimInput) -> VerifyPriorityClaimPayload:
        async def run(actor: Actor) -> int:
            claim = await info.context.services.queue.verify_claim(actor, input.claim_id, input.approve, input.note)
            return claim.id

        async def wrap(i: int | None, e: list[UserError]) -> VerifyPriorityClaimPayload:
            return VerifyPriorityClaimPayload(claim=await _claim(info, i), errors=e)

        return await _mutate(info, "verifyPriorityClaim", input, (Role.AKIMAT_OPERATOR,), run, wrap)

    @strawberry.mutation
    async def revoke_priority_claim(self, info: I, input: RevokePriorityClaimInput) -> RevokePriorityClaimPayload:
        async def run(actor: Actor) -> int:
            claim = await info.context.services.queue.revoke_claim(actor, input.claim_id, input.note)
            return claim.id

        async def wrap(i: int | None, e: list[UserError]) -> RevokePriorityClaimPayload:
            return RevokePriorityClaimPayload(claim=await _claim(info, i), errors=e)

        return await _mutate(info, "revokePriorityClaim", input, (Role.AKIMAT_OPERATOR,), run, wrap)

    @strawberry.mutation
    async def restore_application(self, info: I, input: RestoreApplicationInput) -> RestoreApplicationPayload:
        async def run(actor: Actor) -> int:
            return (await info.context.services.queue.restore_application(actor, input.application_id)).id

        async def wrap(i: int | None, e: list[UserError]) -> RestoreApplicationPayload:
            return RestoreApplicationPayload(application=await _application(info, i), errors=e)

        return await _mutate(info, "restoreApplication", input, (Role.CITIZEN,), run, wrap)

    @strawberry.mutation
    async def confirm_offer(self, info: I, input: ConfirmOfferInput) -> ConfirmOfferPayload:
        async def run(actor: Actor) -> int:
            return (await info.context.services.queue.confirm_offer(actor, input.offer_id)).id

        async def wrap(i: int | None, e: list[UserError]) -> ConfirmOfferPayload:
            return ConfirmOfferPayload(offer=await _offer(info, i), errors=e)

        return await _mutate(info, "confirmOffer", input, (Role.CITIZEN,), run, wrap)

    @strawberry.mutation
    async def decline_offer(self, info: I, input: DeclineOfferInput) -> DeclineOfferPayload:
        async def run(actor: Actor) -> int:
            return (await info.context.services.queue.decline_offer(actor, input.offer_id)).id

        async def wrap(i: int | None, e: list[UserError]) -> DeclineOfferPayload:
            return DeclineOfferPayload(offer=await _offer(info, i), errors=e)

        return await _mutate(info, "declineOffer", input, (Role.CITIZEN,), run, wrap)

    @strawberry.mutation
    async def extend_contract(self, info: I, input: ExtendContractInput) -> ExtendContractPayload:
        async def run(actor: Actor) -> int:
            return (await info.context.services.queue.extend_contract(actor, input.offer_id)).id

        async def wrap(i: int | None, e: list[UserError]) -> ExtendContractPayload:
            return ExtendContractPayload(offer=await _offer(info, i), errors=e)

        return await _mutate(info, "extendContract", input, (Role.CITIZEN,), run, wrap)

    @strawberry.mutation
    async def sign_contract(self, info: I, input: SignContractInput) -> SignContractPayload:
        async def run(actor: Actor) -> int:
            return (await info.context.services.queue.sign_contract(actor, input.contract_id, input.signature)).id

        async def wrap(i: int | None, e: list[UserError]) -> SignContractPayload:
            offer = await _offer(info, i)
            enrollment = None
            if offer is not None:
                found = await info.context.loaders.enrollment_by_child_iin.load(offer.m.child_iin)
                enrollment = (
                    EnrollmentNode(m=found) if found and found.kindergarten_id == offer.m.kindergarten_id else None
                )
            return SignContractPayload(offer=offer, enrollment=enrollment, errors=e)

        return await _mutate(info, "signContract", input, (Role.CITIZEN,), run, wrap)

    @strawberry.mutation
    async def link_siblings(self, info: I, input: LinkSiblingsInput) -> LinkSiblingsPayload:
        async def run(actor: Actor) -> int:
            apps = await info.context.services.queue.link_siblings(actor, list(input.application_ids))
            return apps[0].sibling_group_id or 0

        async def wrap(i: int | None, e: list[UserError]) -> LinkSiblingsPayload:
            nodes = []
            if i:
                for app_id in input.application_ids:
                    node = await _application(info, _int_id(app_id))
                    if node is not None:
                        nodes.append(node)
            return LinkSiblingsPayload(applications=nodes, errors=e)

        return await _mutate(info, "linkSiblings", input, (Role.CITIZEN,), run, wrap)

    @strawberry.mutation
    async def leave_kindergarten(self, info: I, input: LeaveKindergartenInput) -> LeaveKindergartenPayload:
        child_iin = input.child_iin.strip()

        async def run(actor: Actor) -> int:
            await info.context.services.queue.leave_kindergarten(actor, child_iin, input.reason)
            return 1

        async def wrap(i: int | None, e: list[UserError]) -> LeaveKindergartenPayload:
            person = await info.context.loaders.person_by_iin.load(child_iin) if i else None
            visible = person is not None and await can_see_child(info, person.iin)
            return LeaveKindergartenPayload(child=ChildNode(m=person) if person and visible else None, errors=e)

        return await _mutate(
            info,
            "leaveKindergarten",
            input,
            (Role.CITIZEN, Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR),
            run,
            wrap,
        )


def build_schema(*, production: bool) -> strawberry.Schema:
    rules: list[type[ASTValidationRule]] = [*_LIMIT_RULES]
    if production:
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions: list[Any] = [
        lambda: ParserCache(maxsize=512),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules(rules),
        # Last, so that it validates with every rule above; the rule classes are built once, so the cache
        # key (schema, document, rules) repeats and bank apps' few documents are validated once each.
        lambda: ValidationCache(maxsize=512),
    ]
    if production:
        extensions.append(lambda: MaskErrors(should_mask_error=should_mask))
    return SharedSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
    )


__all__ = ["GraphQLError", "Mutation", "Query", "build_schema", "not_found"]
