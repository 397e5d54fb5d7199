"""More regions for the write-path tests: each with one district, two kindergartens of one 2023 RU group
(capacity 0) and four families whose 2023-born child ranks both kindergartens of its region and one of the
next region, so that choices span regions. Imported into a test's own database, with a channel allowed in
every region for the operators and staff of these tests."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.auth import mint
from api.config_files import Channel, load_channels, parse_places, parse_sandbox
from api.settings import DEV_DIR
from domain import iin
from domain.model import Role

FIRST_CODE = 11  # regions 110000000, 120000000, … (none of the test data's)


@dataclass(frozen=True, slots=True)
class Child:
    parent: str
    iin: str
    choices: tuple[str, ...]  # kindergarten externalIds, most wanted first


@dataclass(frozen=True, slots=True)
class Regions:
    codes: list[str]
    kindergartens: list[str]  # externalIds
    children: list[Child]
    places: dict[str, Any]
    sandbox: dict[str, Any]


def build(n: int) -> Regions:
    codes = [f"{FIRST_CODE + i}0000000" for i in range(n)]
    kgs_of = {code: [f"R{code[:2]}-{k}" for k in (1, 2)] for code in codes}
    regions: list[dict[str, Any]] = []
    kindergartens: list[dict[str, Any]] = []
    persons: list[dict[str, Any]] = []
    families: list[dict[str, Any]] = []
    children: list[Child] = []
    serial = 9000
    for i, code in enumerate(codes):
        district = code[:2] + "1000000"
        regions.append(
            {
                "code": code,
                "nameKk": f"Сынақ облысы {i}",
                "nameRu": f"Тестовая область {i}",
                "districts": [{"code": district, "nameKk": f"Аудан {i}", "nameRu": f"Район {i}"}],
            }
        )
        for ext in kgs_of[code]:
            kindergartens.append(
                {
                    "externalId": ext,
                    "districtCode": district,
                    "nameKk": f"{ext} балабақшасы",
                    "nameRu": f"Детский сад {ext}",
                    "address": "ул. Тестовая, 1",
                    "ownership": "STATE",
                    "stateOrder": True,
                    "groups": [
                        {
                            "externalId": "G-2023-RU",
                            "birthYearFrom": 2023,
                            "birthYearTo": 2023,
                            "language": "RU",
                            "groupType": "GENERAL",
                            "capacity": 0,
                        }
                    ],
                }
            )
        neighbour = kgs_of[codes[(i + 1) % n]][0]
        for f in range(4):
            serial += 7
            parent = iin.make(dt.date(1988, 1 + f, 10 + i), True, serial)
            child = iin.make(dt.date(2023, 1 + f, 3 + i), f % 2 == 0, serial)
            for person, born in ((parent, dt.date(1988, 1 + f, 10 + i)), (child, dt.date(2023, 1 + f, 3 + i))):
                persons.append(
                    {
                        "iin": person,
                        "fullName": f"Тест {person[-4:]}",
                        "birthDate": born.isoformat(),
                        "sex": iin.sex(person),
                        "alive": True,
                        "districtCode": district,
                        "phone": f"+77{serial:09d}" if person == parent else None,
                    }
                )
            families.append({"childIin": child, "representativeIins": [parent]})
            own = kgs_of[code] if f % 2 == 0 else kgs_of[code][::-1]
            children.append(Child(parent, child, (*own, neighbour)))
    places = {"regions": regions, "kindergartens": kindergartens}
    sandbox = {"persons": persons, "families": families, "benefits": [], "health": []}
    return Regions(codes, [str(k["externalId"]) for k in kindergartens], children, places, sandbox)


async def import_into(db_url: str, regions: Regions) -> None:
    from api.cli import _import

    await _import(db_url, places=parse_places(regions.places), sandbox=parse_sandbox(regions.sandbox))


def channels_file(tmp_path: Path) -> tuple[Path, Channel]:
    """The development channels and one akimat channel allowed in every region."""
    channels = json.loads((DEV_DIR / "channels.json").read_text())
    channels.append(
        {
            "id": "akimat-everywhere",
            "kind": "AKIMAT",
            "roles": ["akimat_operator", "kindergarten_staff"],
            "keys": [{"kid": "t1", "algorithm": "HS256", "secret": secrets.token_hex(32)}],
        }
    )
    path = tmp_path / "channels.json"
    path.write_text(json.dumps(channels))
    channel = next(c for c in load_channels(path) if c.id == "akimat-everywhere")
    return path, channel


def staff(channel: Channel, kindergarten: str) -> str:
    return mint(channel, Role.KINDERGARTEN_STAFF, f"staff-{kindergarten}", kindergarten=kindergarten)
