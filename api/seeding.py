"""Demo seeding (`kezek seed --demo`, `kezek serve --demo`; docs/api.md §4).

Only an empty database is seeded: the pilot towns' places, the sandbox registries, every group full of children
enrolled before Kezek, the coming school year (those children leaving by the default departure, nursery groups
growing and a new group per town from 1 September), then the waiting families' applications (api/demo.py),
submitted through the use cases as any channel submits them, so that their queue dates, priority claims,
messages and positions are the app's own. A database that holds data already is left as it is, so a restart
keeps every change; `kezek seed --demo --reset` (development only) drops and recreates it first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from api.config_files import parse_places, parse_sandbox
from api.container import build_container
from api.demo import demo_applications, demo_places, demo_sandbox
from api.settings import Settings
from domain.commands import SubmitApplication
from domain.errors import DomainError
from domain.model import Actor, GroupType, Language, Role
from domain.timezone import local_date
from persistence.db import make_engine
from persistence.importers import fill_groups, holds_data, import_sandbox, plan_next_school_year, upsert_places

SEED = 2026


async def seed_demo(settings: Settings, url: str, seed: int = SEED) -> dict[str, Any]:
    """Seeds an empty database; a database that holds data already is not touched (`"seeded": false`)."""
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:  # places, registries and the groups' first children: all or nothing
            if await holds_data(conn):
                return {"seeded": False}
            counts: dict[str, Any] = {
                "seeded": True,
                "places": await upsert_places(conn, parse_places(demo_places(seed))),
                "sandbox": await import_sandbox(conn, parse_sandbox(demo_sandbox(seed))),
                "enrolled_before_kezek": await fill_groups(conn),
                "next_school_year": await plan_next_school_year(conn, local_date(dt.datetime.now(dt.UTC))),
            }
    finally:
        await engine.dispose()
    counts["applications"] = await submit_applications(settings, url, seed)
    return counts


async def submit_applications(settings: Settings, url: str, seed: int = SEED) -> dict[str, int]:
    """The demo families' applications, one use case each, in their order (the sandbox registries answer)."""
    sandboxed = settings.model_copy(
        update={
            "population_registry_url": None,
            "benefits_registry_url": None,
            "health_registry_url": None,
            "esign_url": None,
            "db_pool_size": 2,
        }
    )
    container = build_container(sandboxed, url)
    submitted, refused = 0, 0
    try:
        applications = demo_applications(seed)
        reader = container.services.reader
        externals = sorted({e for a in applications for e in a["kindergartens"]})
        ids = {e: (await reader.kindergarten_ids_by_external([e]))[0] for e in externals}
        today = local_date(container.clock.now())
        for a in applications:
            days = a["startsInDays"]
            command = SubmitApplication(
                child_iin=a["childIin"],
                kindergarten_ids=[str(ids[e]) for e in a["kindergartens"]],
                language=Language(a["language"]),
                group_type=GroupType(a["groupType"]),
                desired_start_date=today + dt.timedelta(days=days) if days else None,
                notification_language=Language(a["notificationLanguage"]),
            )
            try:
                await container.queue.submit_application(Actor(Role.CITIZEN, a["applicantIin"], a["channel"]), command)
            except DomainError:  # the rules of the day refuse it (a child aged out): the family did not apply
                refused += 1
            else:
                submitted += 1
    finally:
        await container.aclose()
    return {"submitted": submitted, "refused": refused}
