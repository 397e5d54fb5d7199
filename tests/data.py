"""The test data set: a few named families for scenarios, a pool for property tests, demo places."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from domain import iin

SHAKHTINSK = "352400000"
KARAGANDA_CITY = "351000000"
KARAGANDA_REGION = "350000000"
PETROPAVLOVSK = "591000000"
SKO_REGION = "590000000"

_serial = iter(range(100, 10_000))


def _iin(born: dt.date, male: bool) -> str:
    return iin.make(born, male, next(_serial) * 7)


@dataclass
class Family:
    parents: list[str]
    children: list[str]
    district: str
    phones: dict[str, str] = field(default_factory=dict)


_persons: list[dict[str, Any]] = []
_families: list[dict[str, Any]] = []
_benefits: list[dict[str, Any]] = []
_health: list[dict[str, Any]] = []
_phone = iter(range(7010000000, 7019999999))


def _family(
    district: str,
    child_births: list[dt.date],
    *,
    parents: int = 2,
    benefit: str | None = None,
    benefit_on_child: bool = False,
    dead_child: bool = False,
) -> Family:
    parent_iins = [_iin(dt.date(1990, 1 + i, 10 + i), i == 1) for i in range(parents)]
    child_iins = [_iin(b, n % 2 == 0) for n, b in enumerate(child_births)]
    phones = {}
    for n, p in enumerate(parent_iins):
        phone = f"+7{next(_phone)}"
        phones[p] = phone
        _persons.append(
            {
                "iin": p,
                "fullName": f"Родитель {p[-4:]}",
                "birthDate": iin.birth_date(p).isoformat(),  # type: ignore[union-attr]
                "sex": iin.sex(p),
                "alive": True,
                "districtCode": district,
                "phone": phone,
            }
        )
        del n
    for n, c in enumerate(child_iins):
        _persons.append(
            {
                "iin": c,
                "fullName": f"Ребёнок {c[-4:]}",
                "birthDate": iin.birth_date(c).isoformat(),  # type: ignore[union-attr]
                "sex": iin.sex(c),
                "alive": not (dead_child and n == 0),
                "districtCode": district,
                "phone": None,
            }
        )
        _families.append({"childIin": c, "representativeIins": parent_iins})
        _health.append(
            {
                "childIin": c,
                "kind": "VACCINATION_CARD",
                "documentId": f"VAC-{c[-6:]}",
                "issuedOn": "2025-01-10",
            }
        )
    if benefit:
        _benefits.append(
            {
                "iin": child_iins[0] if benefit_on_child else parent_iins[0],
                "category": benefit,
                "evidenceId": f"BEN-{parent_iins[0][-6:]}",
            }
        )
    return Family(parent_iins, child_iins, district, phones)


D22, D23, D24 = dt.date(2022, 3, 1), dt.date(2023, 5, 5), dt.date(2024, 2, 2)

PLAIN = _family(SHAKHTINSK, [D22, D23])
OTHER = _family(SHAKHTINSK, [D23])
MILITARY = _family(SHAKHTINSK, [D23], benefit="MILITARY")
LARGE = _family(SHAKHTINSK, [D22, D23, D24, dt.date(2021, 1, 1)], benefit="LARGE_FAMILY")
DISABLED = _family(SHAKHTINSK, [D23], benefit="DISABLED_CHILD", benefit_on_child=True)
NORTH = _family(PETROPAVLOVSK, [D23])
DEAD = _family(SHAKHTINSK, [D23], dead_child=True)
AGED = _family(SHAKHTINSK, [dt.date(2020, 4, 4)])
CITY = _family(KARAGANDA_CITY, [D23])
TWINS = _family(SHAKHTINSK, [D23, D23, D23])
# A pool of 2023-born children in one town for the property test: every third has a pending military
# claim (verifiable), every third a verified primary one (revocable).
POOL = [
    _family(
        SHAKHTINSK,
        [dt.date(2023, 1 + n % 12, 1 + n)],
        parents=1,
        benefit=["MILITARY", "TEACHER_CHILD", None][n % 3],
    )
    for n in range(12)
]

SANDBOX: dict[str, Any] = {
    "persons": _persons,
    "families": _families,
    "benefits": _benefits,
    "health": _health,
}


def _groups(
    prefix: str, years: range, langs: tuple[str, ...] = ("KK", "RU"), capacity: int = 20
) -> list[dict[str, Any]]:
    return [
        {
            "externalId": f"{prefix}-{y}-{lang}",
            "birthYearFrom": y,
            "birthYearTo": y,
            "language": lang,
            "groupType": "GENERAL",
            "capacity": capacity,
        }
        for y in years
        for lang in langs
    ]


def _kg(ext: str, district: str, name: str, groups: list[dict[str, Any]], ownership: str = "STATE") -> dict[str, Any]:
    return {
        "externalId": ext,
        "districtCode": district,
        "nameKk": f"{name} балабақшасы",
        "nameRu": f"Детский сад {name}",
        "address": f"ул. Тестовая, {len(ext)}",
        "ownership": ownership,
        "stateOrder": ownership == "STATE",
        "groups": groups,
    }


PLACES: dict[str, Any] = {
    "regions": [
        {
            "code": KARAGANDA_REGION,
            "nameKk": "Қарағанды облысы",
            "nameRu": "Карагандинская область",
            "districts": [
                {"code": SHAKHTINSK, "nameKk": "Шахтинск қаласы", "nameRu": "город Шахтинск"},
                {"code": KARAGANDA_CITY, "nameKk": "Қарағанды қаласы", "nameRu": "город Караганда"},
            ],
        },
        {
            "code": SKO_REGION,
            "nameKk": "Солтүстік Қазақстан облысы",
            "nameRu": "Северо-Казахстанская область",
            "districts": [{"code": PETROPAVLOVSK, "nameKk": "Петропавл қаласы", "nameRu": "город Петропавловск"}],
        },
    ],
    "kindergartens": [
        _kg("SHA-1", SHAKHTINSK, "Балапан", _groups("G", range(2020, 2027))),
        _kg("SHA-2", SHAKHTINSK, "Айгөлек", _groups("G", range(2020, 2027))),
        _kg("SHA-3", SHAKHTINSK, "Ромашка", _groups("G", range(2021, 2027))),
        _kg("SHA-4", SHAKHTINSK, "Нұрай", _groups("G", range(2021, 2027)), "PRIVATE"),
        _kg("SHA-5", SHAKHTINSK, "Болашақ", _groups("G", range(2021, 2027))),
        _kg("SHA-KK", SHAKHTINSK, "Қазақша", _groups("G", range(2021, 2027), ("KK",))),
        _kg(
            "SHA-SP",
            SHAKHTINSK,
            "Арнаулы",
            [
                {
                    "externalId": "SP-2022-2023",
                    "birthYearFrom": 2022,
                    "birthYearTo": 2023,
                    "language": "RU",
                    "groupType": "SPECIAL",
                    "capacity": 8,
                }
            ],
        ),
        _kg("KAR-1", KARAGANDA_CITY, "Жұлдыз", _groups("G", range(2021, 2027))),
        _kg("PET-1", PETROPAVLOVSK, "Солнышко", _groups("G", range(2021, 2027))),
        _kg("PET-2", PETROPAVLOVSK, "Ақбота", _groups("G", range(2021, 2027))),
    ],
}
