"""The national synthetic data set (docs/quality.md §3): generated deterministically from a seed, loaded with COPY.

Shape: 20 regions with KATO-style codes and ~200 districts; kindergartens spread by population, each with
GENERAL groups for birth years 2020–2026 in KK and RU; families of 1–5 children (twins among them) with one
or two parents; active applications for preschool children with 1–4 ranked choices, queue dates over three
years, 5–10% PRIMARY and under 1% EXTRAORDINARY (each with its verified claim); popularity is skewed (Zipf
within a district, plus each region's favourites drawing from the whole region), so a few kindergartens hold
queues of thousands. Children born 2021–2023 who do not apply are enrolled, and every group's capacity is
exactly its enrolment: every group is full and no offer is pending.

No date depends on today: the data set's "today" is REFERENCE. Load it with `load(url, data)`:

    python -m bench.dataset --persons 100000 --kindergartens 1200 --applications 30000 --database-url URL

(the database must be migrated and empty; `bench.run` does all of this itself). `--sandbox-file` and
`--places-file` also write the same registries and places as the JSON files operators import (docs/api.md §2).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import datetime as dt
import itertools
import json
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from domain import iin as iin_rules
from domain import school_year, seats_over_time
from domain.queue_order import SIBLING_FIRST

REFERENCE = dt.date(2026, 11, 1)  # the data set's "today"
NEXT_YEAR = 2027  # the school year the data set prepares (its intake run: bench/intake.py)
NEW_GROUP_SHARE = 0.1  # kindergartens opening a new group on 1 September of it
QUEUE_FROM = dt.date(2023, 11, 1)  # active applications were queued over the three years before REFERENCE
BIRTH_YEARS = range(2020, 2027)  # groups exist for these
APPLY_FROM = dt.date(2021, 1, 1)  # children born 2020 aged out on 1 September 2026
LANGUAGES = ("KK", "RU")
EXTRAORDINARY_SHARE = 0.006
PRIMARY_SHARE = 0.075
REGION_FAVOURITE_SHARE = 0.15  # choices going to a region's favourites rather than the own district
ZIPF_S = 1.1

# (KATO prefix, name KK, name RU, population in thousands, share of KK-language families, districts, lat, lon)
REGIONS: list[tuple[str, str, str, int, float, int, float, float]] = [
    ("10", "Абай облысы", "Абайская область", 610, 0.75, 10, 50.41, 80.23),
    ("11", "Ақмола облысы", "Акмолинская область", 780, 0.45, 17, 53.28, 69.39),
    ("15", "Ақтөбе облысы", "Актюбинская область", 930, 0.8, 13, 50.28, 57.17),
    ("19", "Алматы облысы", "Алматинская область", 1500, 0.75, 10, 43.35, 77.25),
    ("23", "Атырау облысы", "Атырауская область", 700, 0.9, 8, 47.11, 51.92),
    ("27", "Батыс Қазақстан облысы", "Западно-Казахстанская область", 690, 0.75, 13, 51.23, 51.37),
    ("31", "Жамбыл облысы", "Жамбылская область", 1210, 0.8, 11, 42.9, 71.37),
    ("33", "Жетісу облысы", "Жетысуская область", 700, 0.75, 10, 45.02, 78.37),
    ("35", "Қарағанды облысы", "Карагандинская область", 1130, 0.45, 15, 49.81, 73.09),
    ("39", "Қостанай облысы", "Костанайская область", 830, 0.4, 17, 53.21, 63.63),
    ("43", "Қызылорда облысы", "Кызылординская область", 830, 0.95, 8, 44.85, 65.5),
    ("47", "Маңғыстау облысы", "Мангистауская область", 780, 0.9, 6, 43.65, 51.17),
    ("55", "Павлодар облысы", "Павлодарская область", 750, 0.4, 13, 52.29, 76.97),
    ("59", "Солтүстік Қазақстан облысы", "Северо-Казахстанская область", 530, 0.35, 14, 54.88, 69.16),
    ("61", "Түркістан облысы", "Туркестанская область", 2100, 0.9, 16, 43.3, 68.25),
    ("62", "Ұлытау облысы", "Улытауская область", 220, 0.7, 5, 47.8, 67.71),
    ("63", "Шығыс Қазақстан облысы", "Восточно-Казахстанская область", 720, 0.45, 13, 49.95, 82.61),
    ("71", "Астана қаласы", "город Астана", 1420, 0.65, 5, 51.17, 71.45),
    ("75", "Алматы қаласы", "город Алматы", 2230, 0.55, 8, 43.24, 76.89),
    ("79", "Шымкент қаласы", "город Шымкент", 1230, 0.85, 5, 42.32, 69.6),
]

KG_WORDS = [
    ("Балапан", "Балапан"),
    ("Айгөлек", "Айгөлек"),
    ("Ақбота", "Акбота"),
    ("Күншуақ", "Солнышко"),
    ("Болашақ", "Болашак"),
    ("Қарлығаш", "Ласточка"),
    ("Ертегі", "Сказка"),
    ("Жұлдыз", "Звёздочка"),
    ("Бөбек", "Малыш"),
    ("Нұр", "Нур"),
    ("Шұғыла", "Лучик"),
    ("Арай", "Радуга"),
    ("Еркетай", "Золотой ключик"),
    ("Балдырған", "Колокольчик"),
    ("Гүлдер", "Ромашка"),
    ("Ақ желкен", "Алые паруса"),
]
STREETS = ["Абай", "Достық", "Сәтпаев", "Төле би", "Бейбітшілік", "Жамбыл", "Тәуелсіздік", "Гагарин", "Мира", "Ленин"]
KK_MALE = ["Нұрлан", "Ерлан", "Дәурен", "Асхат", "Арман", "Бауыржан", "Қайрат", "Ержан", "Тимур", "Әли", "Алихан"]
KK_MALE += ["Ислам", "Нұрсұлтан", "Мирас", "Айбек", "Санжар", "Ернар", "Самат", "Бекзат", "Жандос"]
KK_FEMALE = ["Айгерім", "Динара", "Аружан", "Томирис", "Әсел", "Гүлнар", "Жанар", "Меруерт", "Аяулым", "Камила"]
KK_FEMALE += ["Іңкәр", "Дана", "Сабина", "Айым", "Аида", "Жансая", "Мадина", "Назерке", "Фатима", "Амина"]
KK_SURNAMES = ["Серік", "Ахмет", "Жақсыбек", "Нұрлан", "Сейіт", "Қасым", "Әбіл", "Омар", "Төлеу", "Бекет"]
KK_SURNAMES += ["Мұқан", "Есен", "Ержан", "Сарсен", "Жұмабай", "Ибрай", "Тұрсын", "Оспан", "Құрман", "Сағын"]
RU_MALE = ["Артём", "Сергей", "Андрей", "Дмитрий", "Максим", "Иван", "Алексей", "Михаил", "Никита", "Егор"]
RU_FEMALE = ["Елена", "Анна", "Мария", "София", "Ольга", "Виктория", "Дарья", "Полина", "Алиса", "Ксения"]
RU_SURNAMES = ["Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Васильев", "Соколов", "Морозов", "Волков"]
RU_SURNAMES += ["Ким", "Пак", "Шевченко", "Бондаренко", "Лебедев", "Новиков", "Фёдоров", "Козлов", "Сидоров"]
PHONE_PREFIXES = ["700", "701", "702", "705", "707", "747", "771", "775", "776", "777", "778"]
CHANNELS = [("egov", 40), ("kaspi", 35), ("halyk", 15), ("akimat-operator", 10)]
PRIMARY_CHILD = ["DISABLED_CHILD", "SPECIAL_NEEDS", "ORPHAN"]
PRIMARY_PARENT = ["DISABLED_PARENT", "TEACHER_CHILD"]
EXTRAORDINARY = ["MILITARY", "SPECIAL_STATE_BODY"]
ALMATY_UTC_OFFSET = dt.timedelta(hours=5)


@dataclass(frozen=True, slots=True)
class Scale:
    persons: int
    kindergartens: int
    applications: int
    seed: int = 20260701


FULL = Scale(1_000_000, 12_000, 300_000)
REDUCED = Scale(100_000, 1_200, 30_000)


@dataclass(slots=True)
class DataSet:
    """Rows for each table, in the column order of COLUMNS; ids are assigned here."""

    scale: Scale
    regions: list[tuple[Any, ...]] = field(default_factory=list)
    districts: list[tuple[Any, ...]] = field(default_factory=list)
    kindergartens: list[tuple[Any, ...]] = field(default_factory=list)
    groups: list[tuple[Any, ...]] = field(default_factory=list)
    # (iin, full_name, birth_date, sex, alive, district_code, phone, is_parent)
    persons: list[tuple[Any, ...]] = field(default_factory=list)
    families: list[tuple[str, str]] = field(default_factory=list)  # (child_iin, representative_iin)
    benefits: list[tuple[str, str, str]] = field(default_factory=list)
    applications: list[tuple[Any, ...]] = field(default_factory=list)
    choices: list[tuple[Any, ...]] = field(default_factory=list)
    claims: list[tuple[Any, ...]] = field(default_factory=list)
    enrollments: list[tuple[Any, ...]] = field(default_factory=list)
    # Planted families for the statement count: one child with one choice; three (twins among them), four each.
    solo_parent: str = ""
    triple_parent: str = ""
    generation_seconds: float = 0.0

    @property
    def active_applications(self) -> int:
        return sum(1 for a in self.applications if a[4])

    def region_alone(self, region_code: str) -> DataSet:
        """The same people, with one region's kindergartens, groups, queues and seats only: a region that lives on
        its own (bench/year.py, where nobody answers offers elsewhere and the worker would make them and let them
        lapse, day after day, once the next school year's seats are free)."""
        districts = {d[0] for d in self.districts if d[1] == region_code}
        kindergartens = {k[0] for k in self.kindergartens if k[2] in districts}
        applications = {a[0] for a in self.applications if a[16] == region_code}
        return replace(
            self,
            kindergartens=[k for k in self.kindergartens if k[0] in kindergartens],
            groups=[g for g in self.groups if g[1] in kindergartens],
            applications=[a for a in self.applications if a[0] in applications],
            choices=[c for c in self.choices if c[0] in applications],
            claims=[c for c in self.claims if c[1] in applications],
            enrollments=[e for e in self.enrollments if e[3] in kindergartens],
        )

    def counts(self) -> dict[str, int]:
        return {
            "regions": len(self.regions),
            "districts": len(self.districts),
            "kindergartens": len(self.kindergartens),
            "groups": len(self.groups),
            "persons": len(self.persons),
            "representations": len(self.families),
            "applications": len(self.applications),
            "active applications": self.active_applications,
            "choices": len(self.choices),
            "priority_claims": len(self.claims),
            "enrollments": len(self.enrollments),
        }


# Column lists of the real tables (persistence/migrations); anything not listed takes its default.
COLUMNS: dict[str, list[str]] = {
    "regions": ["code", "name_kk", "name_ru"],
    "districts": ["code", "region_code", "name_kk", "name_ru"],
    "kindergartens": [
        "id",
        "external_id",
        "district_code",
        "name_kk",
        "name_ru",
        "address",
        "ownership",
        "state_order",
        "latitude",
        "longitude",
    ],
    "groups": [
        "id",
        "kindergarten_id",
        "external_id",
        "birth_year_from",
        "birth_year_to",
        "language",
        "group_type",
        "capacity",
        "enrolled",
        "held",
        "free_seats",
        "free_from",
        "opens_on",
        "scheduled_capacity",
        "scheduled_from",
    ],
    "sandbox_persons": ["iin", "full_name", "birth_date", "sex", "alive", "district_code", "phone"],
    "sandbox_families": ["child_iin", "representative_iin"],
    "sandbox_benefits": ["iin", "category", "evidence_id"],
    "persons": [
        "iin",
        "full_name",
        "birth_date",
        "sex",
        "alive",
        "district_code",
        "phone",
        "refreshed_at",
        "children_refreshed_at",
    ],
    "representations": ["child_iin", "representative_iin"],
    "applications": [
        "id",
        "number",
        "child_iin",
        "status",
        "active",
        "in_queue",
        "queue_date",
        "channel",
        "tier_rank",
        "language",
        "group_type",
        "desired_start_date",
        "phone",
        "notification_language",
        "birth_year",
        "district_code",
        "region_code",
        "created_at",
        "updated_at",
    ],
    "choices": [
        "application_id",
        "rank",
        "kindergarten_id",
        "tier_rank",
        "queue_date",
        "birth_year",
        "language",
        "group_type",
        "app_in_queue",
        "sibling_rank",
        "held_here",
        "joined_at",
    ],
    "priority_claims": [
        "id",
        "application_id",
        "category",
        "status",
        "subject_iin",
        "evidence_id",
        "source",
        "created_at",
        "decided_at",
        "decided_by",
    ],
    "enrollments": ["id", "child_iin", "group_id", "kindergarten_id", "application_id", "since", "leaves_on"],
}
TABLES = list(COLUMNS)
SEQUENCES = {
    "kindergartens": "kindergartens_id_seq",
    "groups": "groups_id_seq",
    "priority_claims": "priority_claims_id_seq",
    "enrollments": "enrollments_id_seq",
}


# --- generation ---------------------------------------------------------------------------------------


class _Picker:
    """Weighted draws by cumulative weights (bisect), from one deterministic Random."""

    def __init__(self, rng: random.Random, items: Sequence[Any], weights: Sequence[float]) -> None:
        self.rng = rng
        self.items = list(items)
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]

    def pick(self) -> Any:
        return self.items[bisect.bisect_right(self.cum, self.rng.random() * self.total)]


def _apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Largest-remainder split of `total` by weights."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    out = [int(r) for r in raw]
    rest = sorted(range(len(raw)), key=lambda i: raw[i] - out[i], reverse=True)
    for i in rest[: total - sum(out)]:
        out[i] += 1
    return out


class _Iins:
    """Unique valid IINs: a serial counter per birth date and sex (domain.iin.make skips invalid serials)."""

    def __init__(self) -> None:
        self._next: dict[tuple[dt.date, bool], int] = {}

    def make(self, born: dt.date, male: bool) -> str:
        key = (born, male)
        serial = self._next.get(key, 0)
        value = iin_rules.make(born, male, serial)
        used = int(value[7:11])
        if used < serial % 10000:
            raise ValueError(f"more than 10,000 people born on {born}")
        self._next[key] = serial + (used - serial % 10000) + 1
        return value


def _date_between(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange(max((end - start).days, 1)))


def _working_time(rng: random.Random, day: dt.date) -> dt.datetime:
    """A moment between 09:00 and 18:00 Asia/Almaty on that day, in UTC."""
    local = dt.datetime.combine(day, dt.time(9)) + dt.timedelta(seconds=rng.randrange(9 * 3600))
    return (local - ALMATY_UTC_OFFSET).replace(tzinfo=dt.UTC)


@dataclass(slots=True)
class _District:
    code: str
    region_code: str
    kk_share: float
    lat: float
    lon: float
    weight: float
    kgs: list[int] = field(default_factory=list)  # kindergarten ids, most popular first
    picker: _Picker | None = None


@dataclass(slots=True)
class _Family:
    district: _District
    language: str
    parents: list[str]
    parent_phone: str
    children: list[tuple[str, dt.date]]


def generate(scale: Scale) -> DataSet:
    started = time.perf_counter()
    rng = random.Random(scale.seed)
    data = DataSet(scale=scale)
    districts = _places(rng, data, scale)
    families = _families(rng, data, scale, districts)
    _applications(rng, data, scale, families, districts)
    _enrollments(rng, data, families)
    _sibling_priority(data, families)
    data.generation_seconds = time.perf_counter() - started
    return data


def _places(rng: random.Random, data: DataSet, scale: Scale) -> list[_District]:
    districts: list[_District] = []
    for prefix, kk, ru, population, kk_share, n, lat, lon in REGIONS:
        region = f"{prefix}0000000"
        data.regions.append((region, kk, ru))
        shares = [4.0 if i == 0 else rng.uniform(0.5, 1.5) for i in range(n)]
        for i, share in enumerate(shares):
            code = f"{prefix}{10 + i:02d}00000"
            name_kk = f"{kk.split()[0]} {i + 1}-аудан" if i else f"{kk.split()[0]} орталығы"
            name_ru = f"{ru} — район {i + 1}" if i else f"{ru} — центр"
            data.districts.append((code, region, name_kk, name_ru))
            districts.append(
                _District(
                    code,
                    region,
                    kk_share,
                    lat + rng.uniform(-1, 1),
                    lon + rng.uniform(-1, 1),
                    population * share / sum(shares),
                )
            )
    per_district = _apportion(scale.kindergartens, [d.weight for d in districts])
    kg_id = 0
    group_id = 0
    for d, count in zip(districts, per_district, strict=True):
        for n in range(1, count + 1):
            kg_id += 1
            word_kk, word_ru = KG_WORDS[rng.randrange(len(KG_WORDS))]
            state = rng.random() < 0.7
            data.kindergartens.append(
                (
                    kg_id,
                    f"KG-{d.code[:4]}-{n:04d}",
                    d.code,
                    f"№{n} «{word_kk}» балабақшасы",
                    f"Детский сад №{n} «{word_ru}»",
                    f"{STREETS[rng.randrange(len(STREETS))]} көшесі, {rng.randrange(1, 200)}",
                    "STATE" if state else "PRIVATE",
                    not state and rng.random() < 0.6,
                    round(d.lat + rng.uniform(-0.05, 0.05), 6),
                    round(d.lon + rng.uniform(-0.05, 0.05), 6),
                )
            )
            d.kgs.append(kg_id)
            for year in BIRTH_YEARS:
                for language in LANGUAGES:
                    group_id += 1
                    # capacity and enrolled are filled in by _enrollments, next year's seats by _next_year
                    data.groups.append(
                        (group_id, kg_id, f"{year}-{language}", year, year, language, "GENERAL", 0, 0, 0, 0, None)
                    )
        rng.shuffle(d.kgs)  # popularity order within the district
        if d.kgs:
            d.picker = _Picker(rng, d.kgs, [1 / (r + 1) ** ZIPF_S for r in range(len(d.kgs))])
    return [d for d in districts if d.kgs]


def group_id_of(kindergarten_id: int, birth_year: int, language: str) -> int:
    """Ids follow creation order: 14 groups a kindergarten, by birth year then KK, RU."""
    return (
        (kindergarten_id - 1) * len(BIRTH_YEARS) * 2 + (birth_year - BIRTH_YEARS[0]) * 2 + LANGUAGES.index(language) + 1
    )


def _name(kazakh: bool, male: bool, surname: str, given: str, father: str) -> str:
    if kazakh:
        return f"{surname}{'ов' if male else 'ова'} {given} {father}{'ұлы' if male else 'қызы'}"
    last = surname if male or not surname.endswith(("ов", "ев", "ин")) else surname + "а"
    return f"{last} {given} {father}{'ович' if male else 'овна'}"


def _families(rng: random.Random, data: DataSet, scale: Scale, districts: list[_District]) -> list[_Family]:
    iins = _Iins()
    phones = itertools.count(1)
    district_picker = _Picker(rng, districts, [d.weight for d in districts])
    biggest = max(districts, key=lambda d: (len(d.kgs), d.weight))
    families: list[_Family] = []
    planted: list[list[dt.date]] = [
        [dt.date(2023, 3, 15)],
        [dt.date(2023, 6, 10), dt.date(2023, 6, 10), dt.date(2021, 4, 20)],
    ]
    while len(data.persons) < scale.persons:
        district = biggest if planted else district_picker.pick()
        kazakh = rng.random() < district.kk_share
        language = "KK" if kazakh else "RU"
        if planted:
            births = planted.pop(0)
        else:
            n_children = rng.choices((1, 2, 3, 4, 5), weights=(35, 30, 20, 10, 5))[0]
            births = [_date_between(rng, APPLY_FROM, REFERENCE - dt.timedelta(days=20))]
            while len(births) < n_children:
                if rng.random() < 0.04:
                    births.append(births[-1])  # twins
                else:
                    births.append(births[-1] - dt.timedelta(days=rng.randrange(365, 365 * 7 // 2)))
        oldest = min(births)
        surname = rng.choice(KK_SURNAMES if kazakh else RU_SURNAMES)
        father = rng.choice(KK_MALE if kazakh else RU_MALE)
        grandfather = rng.choice(KK_MALE if kazakh else RU_MALE)
        parents: list[str] = []
        phone = ""
        for male in (True, False) if rng.random() < 0.85 else (rng.random() < 0.2,):
            born = oldest - dt.timedelta(days=rng.randrange(365 * 21, 365 * 38))
            iin = iins.make(born, male)
            given = father if male else rng.choice(KK_FEMALE if kazakh else RU_FEMALE)
            own = f"+7{PHONE_PREFIXES[rng.randrange(len(PHONE_PREFIXES))]}{next(phones):07d}"
            phone = phone or own
            full = _name(kazakh, male, surname, given, grandfather)
            data.persons.append((iin, full, born, "M" if male else "F", True, district.code, own, True))
            parents.append(iin)
        children: list[tuple[str, dt.date]] = []
        for born in births:
            male = rng.random() < 0.51
            iin = iins.make(born, male)
            given = rng.choice((KK_MALE if male else KK_FEMALE) if kazakh else (RU_MALE if male else RU_FEMALE))
            full = _name(kazakh, male, surname, given, father)
            data.persons.append((iin, full, born, "M" if male else "F", True, district.code, None, False))
            children.append((iin, born))
            data.families.extend((iin, p) for p in parents)
        families.append(_Family(district, language, parents, phone, children))
    data.solo_parent = families[0].parents[0]
    data.triple_parent = families[1].parents[0]
    return families


def _desired_start(born: dt.date, queued: dt.date) -> dt.date:
    """1 September after the second birthday, or the queue date when that is later."""
    start = dt.date(born.year + 2 + (1 if (born.month, born.day) > (9, 1) else 0), 9, 1)
    return max(start, queued)


def _pick_choices(rng: random.Random, family: _Family, n: int, favourites: dict[str, _Picker]) -> list[int]:
    picked: list[int] = []
    district = family.district
    assert district.picker is not None
    n = min(n, len(district.kgs) + 5)
    for _ in range(n * 8):
        if len(picked) == n:
            break
        source = favourites[district.region_code] if rng.random() < REGION_FAVOURITE_SHARE else district.picker
        kg = int(source.pick())
        if kg not in picked:
            picked.append(kg)
    return picked


def _applications(
    rng: random.Random, data: DataSet, scale: Scale, families: list[_Family], districts: list[_District]
) -> None:
    favourites: dict[str, _Picker] = {}
    by_region: dict[str, list[tuple[int, float]]] = {}
    for d in districts:
        for rank, kg in enumerate(d.kgs[:3]):
            by_region.setdefault(d.region_code, []).append((kg, d.weight / (rank + 1) ** ZIPF_S))
    for region, entries in by_region.items():
        favourites[region] = _Picker(rng, [e[0] for e in entries], [e[1] for e in entries])

    # Who applies: preschool children, the older ones more often; the planted families always.
    weight = {2021: 0.55, 2022: 0.8, 2023: 0.9, 2024: 0.85, 2025: 0.6, 2026: 0.35}
    planted = [(f, c) for f in families[:2] for c in f.children]
    pool = [(f, c) for f in families[2:] for c in f.children if APPLY_FROM <= c[1] <= REFERENCE]
    rng.shuffle(pool)
    chosen = list(planted)
    rest: list[tuple[_Family, tuple[str, dt.date]]] = []
    for fc in pool:
        if len(chosen) >= scale.applications:
            rest.append(fc)
        elif rng.random() < weight[fc[1][1].year]:
            chosen.append(fc)
        else:
            rest.append(fc)
    while len(chosen) < scale.applications and rest:
        chosen.append(rest.pop())
    if len(chosen) < scale.applications:
        raise ValueError(
            f"{scale.persons} persons hold only {len(chosen)} preschool children; ask for fewer applications"
        )
    applying = {c[0] for _, c in chosen}

    rows: list[list[Any]] = []
    channel_picker = _Picker(rng, [c for c, _ in CHANNELS], [w for _, w in CHANNELS])
    for i, (family, (child, born)) in enumerate(chosen):
        queued = _date_between(rng, max(QUEUE_FROM, born + dt.timedelta(days=1)), REFERENCE)
        at = _working_time(rng, queued)
        r = rng.random()
        tier = 0 if r < EXTRAORDINARY_SHARE else 1 if r < EXTRAORDINARY_SHARE + PRIMARY_SHARE else 2
        if i < len(planted):
            tier, n_choices = 2, (1 if i == 0 else 4)
        else:
            n_choices = rng.choices((1, 2, 3, 4), weights=(25, 30, 25, 20))[0]
        kgs = _pick_choices(rng, family, n_choices, favourites)
        rows.append([at, True, family, child, born, tier, kgs, channel_picker.pick()])
    # Children born 2019–2020 who waited before: their applications aged out (history, not in any queue).
    for family in families[2:]:
        for child, born in family.children:
            if dt.date(2019, 1, 1) <= born < APPLY_FROM and child not in applying and rng.random() < 0.3:
                queued = _date_between(rng, born + dt.timedelta(days=30), dt.date(2023, 10, 31))
                kgs = _pick_choices(rng, family, rng.choice((1, 2)), favourites)
                rows.append([_working_time(rng, queued), False, family, child, born, 2, kgs, channel_picker.pick()])
    rows.sort(key=lambda r: r[0])  # ids follow submission order, like the sequence

    claim_id = 0
    large_family_evidence: dict[str, str] = {}
    for app_id, (at, active, family, child, born, tier, kgs, channel) in enumerate(rows, start=1):
        status = "QUEUED" if active else "AGED_OUT"
        aged_out_at = dt.datetime(born.year + 6 + (1 if (born.month, born.day) > (9, 1) else 0), 9, 1, tzinfo=dt.UTC)
        lang = family.language
        data.applications.append(
            (
                app_id,
                f"KZ-{at.year}-{app_id:07d}",
                child,
                status,
                active,
                active,
                at,
                channel,
                tier,
                lang,
                "GENERAL",
                _desired_start(born, at.date()),
                family.parent_phone,
                lang,
                born.year,
                family.district.code,
                family.district.region_code,
                at,
                at if active else aged_out_at,
            )
        )
        for rank, kg in enumerate(kgs, start=1):
            data.choices.append((app_id, rank, kg, tier, at, born.year, lang, "GENERAL", active, 1, False, at))
        if tier < 2:
            claim_id += 1
            if tier == 0:
                category, subject = rng.choice(EXTRAORDINARY), family.parents[0]
                evidence = f"EV-{claim_id:08d}"
            elif len(family.children) >= 4:
                category, subject = "LARGE_FAMILY", family.parents[0]
                evidence = large_family_evidence.setdefault(subject, f"EV-{claim_id:08d}")
            elif rng.random() < 0.7:
                category, subject = rng.choice(PRIMARY_CHILD), child
                evidence = f"EV-{claim_id:08d}"
            else:
                category, subject = rng.choice(PRIMARY_PARENT), rng.choice(family.parents)
                evidence = f"EV-{claim_id:08d}"
            decided = at + dt.timedelta(days=rng.randrange(1, 5)) if tier == 0 else at
            data.claims.append(
                (
                    claim_id,
                    app_id,
                    category,
                    "VERIFIED",
                    subject,
                    evidence,
                    "benefits-registry",
                    at,
                    decided,
                    "akimat_operator:operator-1" if tier == 0 else "system:benefits-registry",
                )
            )
            data.benefits.append((subject, category, evidence))
    data.benefits = sorted(set(data.benefits))


def _enrollments(rng: random.Random, data: DataSet, families: list[_Family]) -> None:
    """Children born 2021–2023 without an application attend a kindergarten of their district, until the default
    departure (31 August of the year they turn 6); every group's capacity is its enrolment, so all groups are
    full and nothing is free to offer now."""
    applying = {a[2] for a in data.applications if a[4]}
    enrolled: dict[int, int] = {}
    since_by_year = {2021: dt.date(2023, 9, 1), 2022: dt.date(2024, 9, 1), 2023: dt.date(2025, 9, 1)}
    for family in families:
        assert family.district.picker is not None
        for child, born in family.children:
            if born.year in since_by_year and child not in applying and rng.random() < 0.8:
                kg = int(family.district.picker.pick())
                gid = group_id_of(kg, born.year, family.language)
                enrolled[gid] = enrolled.get(gid, 0) + 1
                since = since_by_year[born.year]
                data.enrollments.append(
                    (len(data.enrollments) + 1, child, gid, kg, None, since, seats_over_time.departure_for(born, since))
                )
    groups = []
    for g in data.groups:
        n = enrolled.get(g[0], 0)
        groups.append((g[0], g[1], g[2], g[3], g[4], g[5], g[6], n, n, 0, 0, None))
    data.groups = groups
    _next_year(rng, data)


def _sibling_priority(data: DataSet, families: list[_Family]) -> None:
    """A choice of a kindergarten where a brother or sister is enrolled comes first within its tier (docs/product.md
    §3): recorded on the choice as the service records it when the enrolment begins, since the load bypasses the
    service (a data set without it would show the fairness report envy that Kezek's records never had)."""
    attends = {e[1]: e[3] for e in data.enrollments}  # child → kindergarten
    brothers = {child: [c for c, _ in f.children if c != child] for f in families for child, _ in f.children}
    child_of = {a[0]: a[2] for a in data.applications}
    for i, c in enumerate(data.choices):
        if any(attends.get(b) == c[2] for b in brothers.get(child_of[c[0]], ())):
            data.choices[i] = (*c[:9], SIBLING_FIRST, *c[10:])


def _next_year(rng: random.Random, data: DataSet) -> None:
    """The coming school year: the cohort born 2021 leaves on 31 August; its groups close (capacity 0 from
    1 September) and their seats go, by capacities from 1 September, mostly to the kindergarten's 2024 group and
    the rest to its 2022 and 2023 ones; one kindergarten in ten opens a 2025 group. Every group's free seats
    and the day its next seat is free from are counted here as the database would (domain/seats_over_time.py)."""
    september = school_year.first_day(NEXT_YEAR)
    by_id = {g[0]: list(g) for g in data.groups}
    schedule: dict[int, int] = {}
    for kg in data.kindergartens:
        for language in LANGUAGES:
            leaving = by_id[group_id_of(kg[0], 2021, language)][8]
            if not leaving:
                continue
            younger = round(leaving * 0.6)
            middle = round(leaving * 0.2)
            schedule[group_id_of(kg[0], 2021, language)] = 0
            schedule[group_id_of(kg[0], 2024, language)] = by_id[group_id_of(kg[0], 2024, language)][7] + younger
            schedule[group_id_of(kg[0], 2023, language)] = by_id[group_id_of(kg[0], 2023, language)][7] + middle
            rest = leaving - younger - middle
            schedule[group_id_of(kg[0], 2022, language)] = by_id[group_id_of(kg[0], 2022, language)][7] + rest
    groups = []
    for gid, g in by_id.items():
        capacity = schedule.get(gid)
        grows = capacity is not None and capacity > g[7]
        groups.append(
            (*g[:10], 0, september if grows else None, None, capacity, september if capacity is not None else None)
        )
    next_id = max(by_id) + 1
    for kg in data.kindergartens:
        if rng.random() < NEW_GROUP_SHARE:
            language = LANGUAGES[rng.randrange(len(LANGUAGES))]
            groups.append(
                (
                    next_id,
                    kg[0],
                    f"2025-{language}-new",
                    2025,
                    2025,
                    language,
                    "GENERAL",
                    rng.randint(10, 20),
                    0,
                    0,
                    0,
                    september,
                    september,
                    None,
                    None,
                )
            )
            next_id += 1
    data.groups = groups


# --- loading ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class LoadReport:
    copy_seconds: float = 0.0
    index_seconds: float = 0.0
    constraint_seconds: float = 0.0
    analyze_seconds: float = 0.0
    vacuum_seconds: float = 0.0
    steps: list[tuple[str, float]] = field(default_factory=list)

    @property
    def load_seconds(self) -> float:
        """COPY, index builds and constraint validation: the figure docs/quality.md §3 bounds by 120 s."""
        return self.copy_seconds + self.index_seconds + self.constraint_seconds

    @property
    def total_seconds(self) -> float:
        return self.load_seconds + self.analyze_seconds + self.vacuum_seconds


# Tables whose rows are a DataSet list as they stand (the sandbox's families are the representations too).
_ROWS = {
    "regions": "regions",
    "districts": "districts",
    "kindergartens": "kindergartens",
    "groups": "groups",
    "sandbox_families": "families",
    "representations": "families",
    "sandbox_benefits": "benefits",
    "applications": "applications",
    "choices": "choices",
    "priority_claims": "claims",
    "enrollments": "enrollments",
}


def _records(data: DataSet, table: str, now: dt.datetime) -> Iterable[Sequence[Any]]:
    if table == "sandbox_persons":
        return (p[:7] for p in data.persons)
    if table == "persons":
        return ((*p[:7], now, now if p[7] else None) for p in data.persons)
    rows: Iterable[Sequence[Any]] = getattr(data, _ROWS[table])
    return rows


async def _definitions(
    conn: Any,
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(keys: primary/unique constraints, indexes: the rest, foreign keys) touching the loaded tables."""
    tables = TABLES
    keys = await conn.fetch(
        """SELECT c.conrelid::regclass::text AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def
        FROM pg_constraint c WHERE c.contype IN ('p','u') AND c.conrelid::regclass::text = ANY($1::text[])
        ORDER BY c.contype, c.conname""",
        tables,
    )
    indexes = await conn.fetch(
        """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
        FROM pg_index i
        WHERE i.indrelid::regclass::text = ANY($1::text[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY 1""",
        tables,
    )
    fkeys = await conn.fetch(
        """SELECT c.conrelid::regclass::text AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def
        FROM pg_constraint c WHERE c.contype = 'f'
          AND (c.conrelid::regclass::text = ANY($1::text[]) OR c.confrelid::regclass::text = ANY($1::text[]))
        ORDER BY 1, 2""",
        tables,
    )
    return (
        [(r["tbl"], r["conname"], r["def"]) for r in keys],
        [(r["name"], r["def"]) for r in indexes],
        [(r["tbl"], r["conname"], r["def"]) for r in fkeys],
    )


async def load(url: str, data: DataSet, *, log: bool = True) -> LoadReport:
    """COPY the data set into a migrated, empty database; secondary indexes, keys and foreign keys are
    dropped first and rebuilt (and validated) after, then ANALYZE and VACUUM set statistics and the
    visibility map (index-only scans)."""
    from persistence.db import raw_connect

    report = LoadReport()
    conn = await raw_connect(url)
    second = await raw_connect(url)
    try:
        for c in (conn, second):
            await c.execute("SET maintenance_work_mem = '512MB'; SET synchronous_commit = off")
        for table in TABLES:
            if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
                raise RuntimeError(f"table {table} is not empty: load into a freshly migrated database")
        keys, indexes, fkeys = await _definitions(conn)
        for tbl, name, _ in fkeys:
            await conn.execute(f'ALTER TABLE {tbl} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            await conn.execute(f"DROP INDEX {name}")
        for tbl, name, _ in keys:
            await conn.execute(f'ALTER TABLE {tbl} DROP CONSTRAINT "{name}"')
        # The groups' counts are loaded as counted (bench/dataset.py `_next_year`); the per-row triggers would count
        # each group and enrolment again.
        for table in ("groups", "enrollments"):
            await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")

        now = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        # Two connections: while one encodes and sends, the server parses and writes the other.
        big = ["persons", "sandbox_persons", "choices", "applications", "representations", "sandbox_families"]
        small = [t for t in TABLES if t not in big]
        lanes = [["persons", "choices", "sandbox_families"], ["sandbox_persons", "applications", "representations"]]
        lanes[0] += small

        async def lane(c: Any, tables: list[str]) -> None:
            for table in tables:
                t0 = time.perf_counter()
                await c.copy_records_to_table(table, records=_records(data, table, now), columns=COLUMNS[table])
                report.steps.append((f"COPY {table}", time.perf_counter() - t0))

        await asyncio.gather(lane(conn, lanes[0]), lane(second, lanes[1]))
        report.copy_seconds = time.perf_counter() - started
        for table in ("groups", "enrollments"):
            await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        await conn.execute("UPDATE school_days SET refreshed_on = $1", REFERENCE)

        started = time.perf_counter()
        await _parallel(
            [conn, second],
            [(f"key {name}", f'ALTER TABLE {tbl} ADD CONSTRAINT "{name}" {d}') for tbl, name, d in keys]
            + [(f"index {name}", d) for name, d in indexes],
            report,
        )
        report.index_seconds = time.perf_counter() - started
        started = time.perf_counter()
        await _parallel(
            [conn, second],
            [(f"foreign key {name}", f'ALTER TABLE {tbl} ADD CONSTRAINT "{name}" {d}') for tbl, name, d in fkeys],
            report,
        )
        report.constraint_seconds = time.perf_counter() - started
        await conn.execute(
            "SELECT setval('application_number_seq', (SELECT COALESCE(max(id), 0) + 1 FROM applications), false)"
        )
        for table, seq in SEQUENCES.items():
            await conn.execute(f"SELECT setval('{seq}', (SELECT COALESCE(max(id), 0) + 1 FROM {table}), false)")

        started = time.perf_counter()
        await _parallel([conn, second], [(f"vacuum {t}", f"VACUUM (ANALYZE) {t}") for t in TABLES], report)
        report.vacuum_seconds = time.perf_counter() - started
    finally:
        await second.close()
        await conn.close()
    if log:
        print(
            f"loaded in {report.load_seconds:.1f} s (COPY {report.copy_seconds:.1f} s, indexes and keys "
            f"{report.index_seconds:.1f} s, foreign keys {report.constraint_seconds:.1f} s); "
            f"VACUUM ANALYZE {report.vacuum_seconds:.1f} s",
            flush=True,
        )
    return report


async def _parallel(conns: list[Any], statements: list[tuple[str, str]], report: LoadReport) -> None:
    """Runs the statements on the connections, each taking the next one left (longest first is the caller's
    order: keys before indexes, since a foreign key needs the referenced key)."""
    queue = list(statements)

    async def worker(c: Any) -> None:
        while queue:
            label, sql = queue.pop(0)
            t0 = time.perf_counter()
            await c.execute(sql)
            report.steps.append((label, time.perf_counter() - t0))

    await asyncio.gather(*(worker(c) for c in conns))


# --- the same data as operators' files (docs/api.md §2) -----------------------------------------------------------


def sandbox_file(data: DataSet) -> dict[str, Any]:
    """The sandbox registries (`kezek import sandbox FILE`): persons, families and benefits of the data set."""
    parents: dict[str, list[str]] = {}
    for child, parent in data.families:
        parents.setdefault(child, []).append(parent)
    return {
        "persons": [
            {
                "iin": p[0],
                "fullName": p[1],
                "birthDate": p[2].isoformat(),
                "sex": p[3],
                "alive": p[4],
                "districtCode": p[5],
                **({"phone": p[6]} if p[6] else {}),
            }
            for p in data.persons
        ],
        "families": [{"childIin": c, "representativeIins": ps} for c, ps in parents.items()],
        "benefits": [{"iin": i, "category": c, "evidenceId": e} for i, c, e in data.benefits],
        "health": [],
    }


def places_file(data: DataSet) -> dict[str, Any]:
    """Regions, districts, kindergartens and groups (`kezek import places FILE`), capacities as loaded."""
    districts: dict[str, list[dict[str, str]]] = {}
    for code, region, kk, ru in data.districts:
        districts.setdefault(region, []).append({"code": code, "nameKk": kk, "nameRu": ru})
    groups: dict[int, list[dict[str, Any]]] = {}
    for g in data.groups:
        groups.setdefault(g[1], []).append(
            {
                "externalId": g[2],
                "birthYearFrom": g[3],
                "birthYearTo": g[4],
                "language": g[5],
                "groupType": g[6],
                "capacity": g[7],
            }
        )
    return {
        "regions": [
            {"code": code, "nameKk": kk, "nameRu": ru, "districts": districts.get(code, [])}
            for code, kk, ru in data.regions
        ],
        "kindergartens": [
            {
                "externalId": k[1],
                "districtCode": k[2],
                "nameKk": k[3],
                "nameRu": k[4],
                "address": k[5],
                "ownership": k[6],
                "stateOrder": k[7],
                "latitude": k[8],
                "longitude": k[9],
                "groups": groups.get(k[0], []),
            }
            for k in data.kindergartens
        ],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dataset", description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=REDUCED.persons)
    parser.add_argument("--kindergartens", type=int, default=REDUCED.kindergartens)
    parser.add_argument("--applications", type=int, default=REDUCED.applications)
    parser.add_argument("--seed", type=int, default=REDUCED.seed)
    parser.add_argument("--database-url", help="a migrated, empty database; without it, only generate")
    parser.add_argument("--sandbox-file", type=Path, help="also write the sandbox registry file (docs/api.md §2)")
    parser.add_argument("--places-file", type=Path, help="also write the places file (docs/api.md §2)")
    args = parser.parse_args(argv)
    data = generate(Scale(args.persons, args.kindergartens, args.applications, args.seed))
    print(f"generated in {data.generation_seconds:.1f} s: {data.counts()}", flush=True)
    if args.sandbox_file:
        args.sandbox_file.write_text(json.dumps(sandbox_file(data), ensure_ascii=False), encoding="utf-8")
    if args.places_file:
        args.places_file.write_text(json.dumps(places_file(data), ensure_ascii=False), encoding="utf-8")
    if args.database_url:
        asyncio.run(load(args.database_url, data))


if __name__ == "__main__":
    main()
