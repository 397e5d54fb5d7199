"""Rows as domain objects: one mapper per entity, shared by the repositories and the read path."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Protocol

from domain.intake import GroupResult, IntakeRun, IntakeRunStatus, LeftFree, Totals
from domain.model import (
    Application,
    ApplicationStatus,
    Choice,
    ClaimStatus,
    Contract,
    Enrollment,
    Group,
    GroupType,
    HealthDocumentRecord,
    Kindergarten,
    Language,
    Offer,
    OfferStatus,
    Ownership,
    Person,
    PriorityCategory,
    PriorityClaim,
    PriorityTier,
)
from domain.queue_order import SIBLING_FIRST


class Row(Protocol):
    """A result row read by column name: SQLAlchemy's RowMapping or an asyncpg Record (the read path)."""

    def __getitem__(self, key: str, /) -> Any: ...
    def get(self, key: str, /) -> Any: ...


def person_from(row: Row) -> Person:
    return Person(
        iin=row["iin"],
        full_name=row["full_name"],
        birth_date=row["birth_date"],
        sex=row["sex"],
        alive=row["alive"],
        district_code=row["district_code"],
        phone=row["phone"],
    )


def kindergarten_from(row: Row) -> Kindergarten:
    return Kindergarten(
        id=row["id"],
        external_id=row["external_id"],
        district_code=row["district_code"],
        region_code=row["region_code"],
        name_kk=row["name_kk"],
        name_ru=row["name_ru"],
        address=row["address"],
        ownership=Ownership(row["ownership"]),
        state_order=row["state_order"],
        latitude=row["latitude"],
        longitude=row["longitude"],
    )


def kindergarten_of_group(row: Row) -> Kindergarten:
    """The kindergarten of a row that has a group's columns and `sql.KINDERGARTEN_AS_KG`."""
    return Kindergarten(
        id=row["kindergarten_id"],
        external_id=row["kg_external_id"],
        district_code=row["district_code"],
        region_code=row["region_code"],
        name_kk=row["name_kk"],
        name_ru=row["name_ru"],
        address=row["address"],
        ownership=Ownership(row["ownership"]),
        state_order=row["state_order"],
        latitude=row["latitude"],
        longitude=row["longitude"],
    )


def group_from(row: Row) -> Group:
    return Group(
        id=row["id"],
        kindergarten_id=row["kindergarten_id"],
        external_id=row["external_id"],
        birth_year_from=row["birth_year_from"],
        birth_year_to=row["birth_year_to"],
        language=Language(row["language"]),
        group_type=GroupType(row["group_type"]),
        capacity=row["capacity"],
        enrolled=row["enrolled"],
        held=row["held"],
        free_seats=row["free_seats"],
        free_from=row["free_from"],
        opens_on=row["opens_on"],
        scheduled_capacity=row["scheduled_capacity"],
        scheduled_from=row["scheduled_from"],
    )


def claim_from(row: Row) -> PriorityClaim:
    return PriorityClaim(
        id=row["id"],
        application_id=row["application_id"],
        category=PriorityCategory(row["category"]),
        status=ClaimStatus(row["status"]),
        subject_iin=row["subject_iin"],
        evidence_id=row["evidence_id"],
        source=row["source"],
        manual_deadline=row["manual_deadline"],
    )


def choice_from(c: Row) -> Choice:
    return Choice(
        application_id=c["application_id"],
        rank=c["rank"],
        kindergarten_id=c["kindergarten_id"],
        held_here=c["held_here"],
        joined_at=c["joined_at"],
        sibling_priority=c["sibling_rank"] == SIBLING_FIRST,
    )


def application_from(row: Row, choices: Sequence[Row]) -> Application:
    return Application(
        id=row["id"],
        number=row["number"],
        child_iin=row["child_iin"],
        status=ApplicationStatus(row["status"]),
        queue_date=row["queue_date"],
        channel=row["channel"],
        tier=PriorityTier.from_rank(row["tier_rank"]),
        language=Language(row["language"]),
        group_type=GroupType(row["group_type"]),
        desired_start_date=row["desired_start_date"],
        phone=row["phone"],
        notification_language=Language(row["notification_language"]),
        birth_year=row["birth_year"],
        district_code=row["district_code"],
        region_code=row["region_code"],
        active=row["active"],
        restored=row["restored"],
        inactive_since=row["inactive_since"],
        sibling_group_id=row["sibling_group_id"],
        created_at=row["created_at"],
        dropped_kindergartens=list(row.get("dropped_kindergartens") or []),
        choices=[choice_from(c) for c in choices],
    )


def application_with_choices(row: Row) -> Application:
    """A row of `sql.APPLICATIONS`: the application and its choices (as JSON) in one."""
    choices = _json(row["choice_rows"])
    for c in choices:
        c["joined_at"] = dt.datetime.fromisoformat(c["joined_at"])
    return application_from(row, choices)


def offer_from(r: Row) -> Offer:
    return Offer(
        id=r["id"],
        application_id=r["application_id"],
        child_iin=r["child_iin"],
        kindergarten_id=r["kindergarten_id"],
        group_id=r["group_id"],
        status=OfferStatus(r["status"]),
        tier=PriorityTier.from_rank(r["tier_rank"]),
        upgrade=r["upgrade"],
        created_at=r["created_at"],
        respond_by=r["respond_by"],
        sibling_group_id=r["sibling_group_id"],
        remind_at=r["remind_at"],
        starts_on=r["starts_on"],
        intake_run_id=r["intake_run_id"],
    )


def _json(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else raw


def contract_from(r: Row) -> Contract:
    return Contract(
        id=r["id"],
        offer_id=r["offer_id"],
        text=r["text"],
        document_hash=r["document_hash"],
        language=Language(r["language"]),
        issued_at=r["issued_at"],
        sign_by=r["sign_by"],
        signed_at=r["signed_at"],
        extended=r["extended"],
        health_documents=[
            HealthDocumentRecord(d["kind"], d["documentId"], dt.date.fromisoformat(d["issuedOn"]))
            for d in _json(r["health_documents"])
        ],
        missing_documents=list(_json(r["missing_documents"])),
    )


def enrollment_from(r: Row) -> Enrollment:
    return Enrollment(
        r["id"], r["child_iin"], r["group_id"], r["kindergarten_id"], r["application_id"], r["since"], r["leaves_on"]
    )


def totals_from(raw: Any) -> Totals:
    data = json.loads(raw) if isinstance(raw, str) else raw
    return Totals(
        seats=data["seats"],
        offers=data["offers"],
        upgrades=data["upgrades"],
        first_choice_share=data["firstChoiceShare"],
        waiting_by_tier={PriorityTier(t): n for t, n in data["waitingByTier"].items()},
        seats_left_free=data["seatsLeftFree"],
    )


def run_from(r: Row) -> IntakeRun:
    verdict = r["verdict"]
    changes = r["changes_at_publish"]
    return IntakeRun(
        id=r["id"],
        region_code=r["region_code"],
        school_year=r["school_year"],
        status=IntakeRunStatus(r["status"]),
        created_at=r["created_at"],
        created_by=r["created_by"],
        totals=totals_from(r["totals"]),
        verdict=json.loads(verdict) if isinstance(verdict, str) else verdict,
        published_at=r["published_at"],
        discarded_at=r["discarded_at"],
        changes_at_publish=tuple(json.loads(changes) if isinstance(changes, str) else changes),
    )


def group_result_from(r: Row) -> GroupResult:
    reason = r["left_free_reason"]
    return GroupResult(
        r["group_id"], r["seats"], tuple(r["offered"]), r["left_free"], LeftFree(reason) if reason else None
    )
