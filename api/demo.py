"""Deterministic demo data for the two pilot towns: the places file and the sandbox registries (docs/api.md §2).

Same seed, same output: everything is drawn from one `random.Random(seed)`, and no date depends on today.
The first three families are well known (fixed IINs below) for the README walkthrough.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from domain import iin
from domain.model import GroupType, Language, Ownership, PriorityCategory

SHAKHTINSK = "352400000"
PETROPAVLOVSK = "591000000"

# Mother of two (born 2022 and 2023) in Shakhtinsk, no benefits.
DEMO_PARENT_IIN = "920415441011"
DEMO_PARENT_CHILD_IINS = ("220310641037", "230821541040")
# A parent of another family (Shakhtinsk, one child born 2022): not a representative of the children above.
DEMO_OTHER_PARENT_IIN = "881102341056"
# A serviceman (MILITARY benefit on him) in Petropavlovsk with one child born 2023.
DEMO_MILITARY_PARENT_IIN = "900120341088"
DEMO_MILITARY_CHILD_IIN = "230214641106"

_D = dt.date
# (district, [(iin, full name, birth date, phone)] adults, [(iin, full name, birth date)] children, benefits)
_Adult = tuple[str, str, dt.date, str]
_Child = tuple[str, str, dt.date]
_WELL_KNOWN: list[tuple[str, list[_Adult], list[_Child], list[str]]] = [
    (
        SHAKHTINSK,
        [
            (DEMO_PARENT_IIN, "Серікова Айгерім Нұрланқызы", _D(1992, 4, 15), "+77015550101"),
            ("900903341024", "Серіков Дәурен Болатұлы", _D(1990, 9, 3), "+77015550102"),
        ],
        [
            (DEMO_PARENT_CHILD_IINS[0], "Серікова Аружан Дәуренқызы", _D(2022, 3, 10)),
            (DEMO_PARENT_CHILD_IINS[1], "Серіков Әли Дәуренұлы", _D(2023, 8, 21)),
        ],
        [],
    ),
    (
        SHAKHTINSK,
        [
            (DEMO_OTHER_PARENT_IIN, "Иванов Артём Сергеевич", _D(1988, 11, 2), "+77055550201"),
            ("910217441063", "Иванова Елена Викторовна", _D(1991, 2, 17), "+77055550202"),
        ],
        [("220605641070", "Иванова София Артёмовна", _D(2022, 6, 5))],
        [],
    ),
    (
        PETROPAVLOVSK,
        [
            (DEMO_MILITARY_PARENT_IIN, "Ахметов Ерлан Қайратұлы", _D(1990, 1, 20), "+77075550301"),
            ("930708441096", "Ахметова Динара Маратқызы", _D(1993, 7, 8), "+77075550302"),
        ],
        [(DEMO_MILITARY_CHILD_IIN, "Ахметова Томирис Ерланқызы", _D(2023, 2, 14))],
        [DEMO_MILITARY_PARENT_IIN],
    ),
]

REGIONS: list[dict[str, Any]] = [
    {
        "code": "350000000",
        "nameKk": "Қарағанды облысы",
        "nameRu": "Карагандинская область",
        "districts": [{"code": SHAKHTINSK, "nameKk": "Шахтинск қаласы", "nameRu": "город Шахтинск"}],
    },
    {
        "code": "590000000",
        "nameKk": "Солтүстік Қазақстан облысы",
        "nameRu": "Северо-Казахстанская область",
        "districts": [{"code": PETROPAVLOVSK, "nameKk": "Петропавл қаласы", "nameRu": "город Петропавловск"}],
    },
]

# district -> (externalId tag, town in addresses, centre latitude, longitude, streets, kindergartens)
_TOWNS: dict[str, tuple[str, str, float, float, list[str], int]] = {
    SHAKHTINSK: (
        "SHA",
        "г. Шахтинск",
        49.7106,
        72.5920,
        [
            "ул. Парковая",
            "ул. Казахстанская",
            "пр. Абая",
            "ул. Шахтёрская",
            "ул. Юбилейная",
            "ул. Гагарина",
            "ул. Тимирязева",
            "ул. Иванова",
            "ул. Наурызбай батыра",
            "пос. Шахан, ул. Шахтёрская",
            "пос. Долинка, ул. Школьная",
            "ул. Тельмана",
        ],
        14,
    ),
    PETROPAVLOVSK: (
        "PET",
        "г. Петропавловск",
        54.8753,
        69.1628,
        [
            "ул. Конституции Казахстана",
            "ул. Интернациональная",
            "ул. Жамбыла",
            "ул. Абая",
            "ул. Букетова",
            "ул. Мира",
            "ул. Ауэзова",
            "ул. Жумабаева",
            "ул. Победы",
            "ул. Пушкина",
            "ул. Маяковского",
            "ул. Сутюшева",
            "ул. Уалиханова",
            "ул. Токсан би",
            "ул. Володарского",
            "ул. Каныша Сатпаева",
        ],
        20,
    ),
}

# (name in Kazakh, name in Russian) of a kindergarten
_KG_NAMES = [
    ("Балапан", "Балапан"),
    ("Айгөлек", "Айголек"),
    ("Ақбота", "Акбота"),
    ("Күншуақ", "Солнышко"),
    ("Қарлығаш", "Ласточка"),
    ("Болашақ", "Болашак"),
    ("Еркетай", "Еркетай"),
    ("Шұғыла", "Шугыла"),
    ("Арман", "Арман"),
    ("Бөбек", "Бобек"),
    ("Мөлдір", "Мольдир"),
    ("Жұлдызша", "Звёздочка"),
    ("Нұрай", "Нурай"),
    ("Айсұлу", "Айсулу"),
    ("Ботагөз", "Ботагоз"),
    ("Балдырған", "Балдырган"),
    ("Ертегі", "Сказка"),
    ("Қызғалдақ", "Тюльпан"),
    ("Бәйтерек", "Байтерек"),
    ("Самал", "Самал"),
    ("Алтын бесік", "Алтын бесик"),
    ("Ақ қайың", "Берёзка"),
    ("Теремок", "Теремок"),
    ("Қоңырау", "Колокольчик"),
    ("Кемпірқосақ", "Радуга"),
    ("Алтын кілт", "Золотой ключик"),
    ("Ақниет", "Акниет"),
    ("Құлыншақ", "Кулыншак"),
    ("Таңшолпан", "Таншолпан"),
    ("Жидек", "Ягодка"),
    ("Умка", "Умка"),
    ("Алёнушка", "Алёнушка"),
    ("Бәйшешек", "Подснежник"),
    ("Дельфин", "Дельфин"),
    ("Ақсұңқар", "Аксункар"),
    ("Сәуле", "Сауле"),
]

_YEARS = range(2020, 2026)
_KK, _RU, _EN = Language.KK.value, Language.RU.value, Language.EN.value
_TYPE_TAG = {GroupType.GENERAL: "", GroupType.SPECIAL: "-SP", GroupType.SANATORIUM: "-SAN"}


def _groups(rng: random.Random, private: bool, full: bool, extra: list[GroupType]) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    counts: dict[str, int] = {}

    def add(y1: int, y2: int, lang: str, gtype: GroupType, capacity: int) -> None:
        key = f"G-{y1}" + (f"-{y2}" if y2 != y1 else "") + f"-{lang}{_TYPE_TAG[gtype]}"
        counts[key] = counts.get(key, 0) + 1
        groups.append(
            {
                "externalId": f"{key}-{counts[key]}",
                "birthYearFrom": y1,
                "birthYearTo": y2,
                "language": lang,
                "groupType": gtype.value,
                "capacity": capacity,
            }
        )

    odds = {_KK: 0.45, _RU: 0.85} if private else {_KK: 0.85, _RU: 0.85}
    mixed = None if full else rng.choice([None, None, None, None, _KK, _RU] if not private else [_KK, _RU])
    for lang in (_KK, _RU):
        if mixed == lang:
            add(2022, 2023, lang, GroupType.GENERAL, rng.randint(15, 25))
        for year in _YEARS:
            if (mixed == lang and year in (2022, 2023)) or not (full or rng.random() < odds[lang]):
                continue
            low = 15 if year >= 2024 or private else 20  # nursery groups are smaller
            for _ in range(2 if not private and rng.random() < 0.2 else 1):
                add(year, year, lang, GroupType.GENERAL, rng.randint(low, min(low + 10, 30)))
    for gtype in extra:
        if gtype is GroupType.SPECIAL:
            add(rng.choice([2020, 2021]), 2022, rng.choice([_KK, _RU]), gtype, 15)
        else:
            add(2020, 2021, _RU, gtype, rng.randint(15, 20))
    if private and rng.random() < 0.3:
        add(2020, 2021, _EN, GroupType.GENERAL, 15)
    return groups


def demo_places(seed: int = 2026) -> dict[str, Any]:
    """The places file (KEZEK_PLACES_FILE): both pilot towns with their kindergartens and groups."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    names = rng.sample(_KG_NAMES, len(_KG_NAMES))
    kindergartens: list[dict[str, Any]] = []
    for district, (tag, town, lat, lon, streets, count) in _TOWNS.items():
        numbers = sorted(rng.sample(range(1, 45), count))
        for i, number in enumerate(numbers):
            kk, ru = names.pop()
            private = i % 3 == 2
            extra = [GroupType.SPECIAL] if i % 4 == 1 else []
            if (district, i) in ((SHAKHTINSK, 6), (PETROPAVLOVSK, 3)):
                extra.append(GroupType.SANATORIUM)
            if private:
                ext = f"KZ-{tag}-DS-{100 + number:03d}"
                name_ru, name_kk = f"Частный детский сад «{ru}»", f"«{kk}» жеке балабақшасы"
            elif rng.random() < 0.6:
                ext = f"KZ-{tag}-DS-{number:03d}"
                name_ru, name_kk = f"Ясли-сад №{number} «{ru}»", f"№{number} «{kk}» бөбекжай-бақшасы"
            else:
                ext = f"KZ-{tag}-DS-{number:03d}"
                name_ru, name_kk = f"Детский сад №{number} «{ru}»", f"№{number} «{kk}» балабақшасы"
            kindergartens.append(
                {
                    "externalId": ext,
                    "districtCode": district,
                    "nameKk": name_kk,
                    "nameRu": name_ru,
                    "address": f"{town}, {streets[i % len(streets)]}, {rng.randint(1, 120)}",
                    "latitude": round(lat + rng.uniform(-0.03, 0.03), 6),
                    "longitude": round(lon + rng.uniform(-0.05, 0.05), 6),
                    "ownership": (Ownership.PRIVATE if private else Ownership.STATE).value,
                    "stateOrder": not private or i % 2 == 0,
                    "groups": _groups(rng, private, i == 0, extra),
                }
            )
    return {"regions": REGIONS, "kindergartens": kindergartens}


def _with_patronymics(names: list[str]) -> list[tuple[str, str, str]]:
    return [(n, n + "ұлы", n + "қызы") for n in names]


# Men's names as (name, son's patronymic, daughter's patronymic); surnames in the masculine form.
_KK_MEN = _with_patronymics(
    [
        "Нұрлан",
        "Дәурен",
        "Ерлан",
        "Қайрат",
        "Болат",
        "Асхат",
        "Ержан",
        "Айдос",
        "Бауыржан",
        "Марат",
        "Серік",
        "Талғат",
        "Ғалым",
        "Азамат",
        "Жандос",
        "Мұрат",
        "Арман",
        "Нұрсұлтан",
        "Ерболат",
        "Бекзат",
    ]
)
_RU_MEN = [
    ("Сергей", "Сергеевич", "Сергеевна"),
    ("Алексей", "Алексеевич", "Алексеевна"),
    ("Андрей", "Андреевич", "Андреевна"),
    ("Дмитрий", "Дмитриевич", "Дмитриевна"),
    ("Николай", "Николаевич", "Николаевна"),
    ("Александр", "Александрович", "Александровна"),
    ("Иван", "Иванович", "Ивановна"),
    ("Михаил", "Михайлович", "Михайловна"),
    ("Владимир", "Владимирович", "Владимировна"),
    ("Евгений", "Евгеньевич", "Евгеньевна"),
    ("Артём", "Артёмович", "Артёмовна"),
    ("Максим", "Максимович", "Максимовна"),
    ("Денис", "Денисович", "Денисовна"),
    ("Павел", "Павлович", "Павловна"),
    ("Олег", "Олегович", "Олеговна"),
    ("Игорь", "Игоревич", "Игоревна"),
    ("Виктор", "Викторович", "Викторовна"),
    ("Роман", "Романович", "Романовна"),
    ("Юрий", "Юрьевич", "Юрьевна"),
    ("Антон", "Антонович", "Антоновна"),
]
_KK_SURNAMES = [
    "Серіков",
    "Ахметов",
    "Нұрланов",
    "Жұмабаев",
    "Сәрсенбаев",
    "Омаров",
    "Қасымов",
    "Әбдіров",
    "Тоқтаров",
    "Байжанов",
    "Есенов",
    "Мұқанов",
    "Исаев",
    "Бекмағамбетов",
    "Оспанов",
    "Төлеуов",
    "Сейітов",
    "Құрманов",
    "Ермеков",
    "Жақыпов",
    "Сұлтанов",
    "Әлиев",
]
_RU_SURNAMES = [
    "Иванов",
    "Петров",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Зайцев",
]
_KK_WOMEN = [
    "Айгерім",
    "Гүлназ",
    "Динара",
    "Жанар",
    "Әсел",
    "Мадина",
    "Ақерке",
    "Назерке",
    "Балнұр",
    "Жансая",
    "Аяжан",
    "Сабина",
    "Салтанат",
    "Гүлмира",
    "Ботагөз",
    "Ләззат",
    "Меруерт",
    "Айжан",
]
_RU_WOMEN = [
    "Анна",
    "Елена",
    "Ольга",
    "Наталья",
    "Татьяна",
    "Ирина",
    "Екатерина",
    "Мария",
    "Светлана",
    "Юлия",
    "Анастасия",
    "Дарья",
    "Ксения",
    "Виктория",
    "Оксана",
    "Галина",
]
_KK_BOYS = [
    "Әли",
    "Алихан",
    "Нұрислам",
    "Айсұлтан",
    "Ернар",
    "Санжар",
    "Ислам",
    "Мағжан",
    "Темірлан",
    "Алдияр",
    "Әмір",
    "Арсен",
    "Ерасыл",
    "Нұрали",
    "Бексұлтан",
    "Даниял",
    "Ансар",
    "Айбар",
]
_KK_GIRLS = [
    "Аружан",
    "Томирис",
    "Айым",
    "Іңкәр",
    "Дана",
    "Камила",
    "Айша",
    "Әйгерім",
    "Амина",
    "Медина",
    "Сезім",
    "Жасмин",
    "Раяна",
    "Айару",
    "Нұрай",
    "Адия",
]
_RU_BOYS = [
    "Артём",
    "Максим",
    "Михаил",
    "Александр",
    "Матвей",
    "Иван",
    "Даниил",
    "Кирилл",
    "Тимофей",
    "Марк",
    "Лев",
    "Егор",
    "Никита",
    "Фёдор",
    "Роман",
    "Арсений",
]
_RU_GIRLS = [
    "София",
    "Алиса",
    "Ева",
    "Вероника",
    "Полина",
    "Анна",
    "Мария",
    "Варвара",
    "Виктория",
    "Милана",
    "Дарья",
    "Ульяна",
    "Василиса",
    "Кира",
    "Есения",
    "Злата",
]
_PHONE_CODES = ["700", "701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778"]
_CHILD_FIRST, _CHILD_LAST = _D(2020, 1, 1), _D(2026, 1, 31)
_DOCS_UNTIL = _D(2026, 2, 28)


@dataclass
class _Family:
    district: str
    adults: list[dict[str, Any]] = field(default_factory=list)
    children: list[dict[str, Any]] = field(default_factory=list)


def _person(number: str, name: str, born: dt.date, district: str, phone: str | None) -> dict[str, Any]:
    return {
        "iin": number,
        "fullName": name,
        "birthDate": born.isoformat(),
        "sex": iin.sex(number),
        "alive": True,
        "districtCode": district,
        "phone": phone,
    }


class _Registry:
    """Draws IINs and phones that nobody else has."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.iins: set[str] = set()
        self.phones: set[str] = set()

    def iin(self, born: dt.date, male: bool) -> str:
        while True:
            number = iin.make(born, male, self.rng.randrange(1, 9999))
            if number not in self.iins:
                self.iins.add(number)
                return number

    def phone(self) -> str:
        while True:
            phone = f"+7{self.rng.choice(_PHONE_CODES)}{self.rng.randrange(10**7):07d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def date(self, first: dt.date, last: dt.date) -> dt.date:
        return first + dt.timedelta(days=self.rng.randint(0, (last - first).days))


def _birth_dates(reg: _Registry, n: int, twins: bool) -> list[dt.date]:
    """Children's birth dates, at least ~9 months apart except twins."""
    distinct = n - 1 if twins else n
    while True:
        dates = sorted(reg.date(_CHILD_FIRST, _CHILD_LAST) for _ in range(distinct))
        if all((b - a).days >= 280 for a, b in itertools.pairwise(dates)):
            break
    if twins:
        dates.insert(0, dates[0])
    return dates


def _random_family(reg: _Registry, n_children: int, twins: bool) -> _Family:
    rng = reg.rng
    fam = _Family(PETROPAVLOVSK if rng.random() < 0.58 else SHAKHTINSK)
    kazakh = rng.random() < 0.55
    men, women = (_KK_MEN, _KK_WOMEN) if kazakh else (_RU_MEN, _RU_WOMEN)
    boys, girls = (_KK_BOYS, _KK_GIRLS) if kazakh else (_RU_BOYS, _RU_GIRLS)
    surname = rng.choice(_KK_SURNAMES if kazakh else _RU_SURNAMES)
    father = rng.choice(men)
    shape = rng.random()  # both parents, or the mother alone, or the father alone
    if shape < 0.9:
        born = reg.date(_D(1980, 1, 1), _D(2000, 12, 31))
        name = f"{surname}а {rng.choice(women)} {rng.choice(men)[2]}"
        fam.adults.append(_person(reg.iin(born, False), name, born, fam.district, reg.phone()))
    if shape < 0.82 or shape >= 0.9:
        born = reg.date(_D(1980, 1, 1), _D(2000, 12, 31))
        name = f"{surname} {father[0]} {rng.choice(men)[1]}"
        fam.adults.append(_person(reg.iin(born, True), name, born, fam.district, reg.phone()))
    for born in _birth_dates(reg, n_children, twins):
        male = rng.random() < 0.5
        name = f"{surname} {rng.choice(boys)} {father[1]}" if male else f"{surname}а {rng.choice(girls)} {father[2]}"
        fam.children.append(_person(reg.iin(born, male), name, born, fam.district, None))
    return fam


def _families(reg: _Registry, count: int) -> list[_Family]:
    fams: list[_Family] = []
    for district, adults, children, _ in _WELL_KNOWN:
        fam = _Family(district)
        for number, name, born, phone in adults:
            fam.adults.append(_person(number, name, born, district, phone))
            reg.phones.add(phone)
        for number, name, born in children:
            fam.children.append(_person(number, name, born, district, None))
        reg.iins.update(p["iin"] for p in fam.adults + fam.children)
        fams.append(fam)
    for _ in range(count):
        n = reg.rng.choices([1, 2, 3, 4, 5], weights=[50, 34, 11.5, 3, 1.5])[0]
        fams.append(_random_family(reg, n, n >= 2 and reg.rng.random() < 0.05))
    return fams


# category -> how many random families get it (LARGE_FAMILY goes to every family with 4+ children)
_BENEFIT_COUNTS = {
    PriorityCategory.MILITARY: 10,
    PriorityCategory.SPECIAL_STATE_BODY: 8,
    PriorityCategory.ORPHAN: 8,
    PriorityCategory.DISABLED_CHILD: 14,
    PriorityCategory.SPECIAL_NEEDS: 16,
    PriorityCategory.DISABLED_PARENT: 12,
    PriorityCategory.TEACHER_CHILD: 16,
}
_ON_CHILD = {PriorityCategory.ORPHAN, PriorityCategory.DISABLED_CHILD, PriorityCategory.SPECIAL_NEEDS}


def demo_sandbox(seed: int = 2026) -> dict[str, Any]:
    """The sandbox registries (KEZEK_SANDBOX_FILE): persons, families, benefits and health documents."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    reg = _Registry(rng)
    fams = _families(reg, 1500)
    known = len(_WELL_KNOWN)
    benefits: list[dict[str, Any]] = []

    def grant(person: dict[str, Any], category: PriorityCategory) -> None:
        benefits.append(
            {"iin": person["iin"], "category": category.value, "evidenceId": f"BEN-{len(benefits) + 1:06d}"}
        )

    for (_, _, _, granted), fam in zip(_WELL_KNOWN, fams, strict=False):
        for adult in fam.adults:
            if adult["iin"] in granted:
                grant(adult, PriorityCategory.MILITARY)
    pool = list(range(known, len(fams)))
    rng.shuffle(pool)
    special_needs: set[str] = set()
    for category, count in _BENEFIT_COUNTS.items():
        if category is PriorityCategory.ORPHAN:  # the guardian is the only representative
            chosen = [i for i in pool if len(fams[i].adults) == 1][:count]
        else:
            chosen = pool[:count]
        for i in chosen:
            pool.remove(i)
            fam = fams[i]
            person = rng.choice(fam.children if category in _ON_CHILD else fam.adults)
            grant(person, category)
            if category is PriorityCategory.SPECIAL_NEEDS:
                special_needs.add(person["iin"])
    for fam in fams[known:]:
        if len(fam.children) >= 4:
            grant(fam.adults[0], PriorityCategory.LARGE_FAMILY)
    # A few children who died (the youngest of two or three); never in a family with a benefit.
    for i in [i for i in pool if 2 <= len(fams[i].children) <= 3][:12]:
        fams[i].children[-1]["alive"] = False

    health: list[dict[str, Any]] = []
    prefixes = {"VACCINATION_CARD": "VAC", "MEDICAL_RECORD": "MED", "SPECIAL_NEEDS_CONCLUSION": "PMPK"}
    issued_count = dict.fromkeys(prefixes, 0)

    def document(child: dict[str, Any], kind: str, issued: dt.date) -> None:
        issued_count[kind] += 1
        doc_id = f"{prefixes[kind]}-{issued_count[kind]:06d}"
        health.append(
            {
                "childIin": child["iin"],
                "kind": kind,
                "documentId": doc_id,
                "issuedOn": min(issued, _DOCS_UNTIL).isoformat(),
            }
        )

    for index, fam in enumerate(fams):
        for child in fam.children:
            if not child["alive"]:
                continue
            born = _D.fromisoformat(child["birthDate"])
            if index < known or rng.random() < 0.94:
                document(child, "VACCINATION_CARD", born + dt.timedelta(days=rng.randint(1, 14)))
            if index < known or rng.random() < 0.9:
                document(
                    child,
                    "MEDICAL_RECORD",
                    reg.date(max(born + dt.timedelta(days=21), _D(2025, 3, 1)), _DOCS_UNTIL),
                )
            if child["iin"] in special_needs:
                document(child, "SPECIAL_NEEDS_CONCLUSION", reg.date(max(born, _D(2024, 6, 1)), _DOCS_UNTIL))

    return {
        "persons": [p for fam in fams for p in fam.adults + fam.children],
        "families": [
            {"childIin": c["iin"], "representativeIins": [a["iin"] for a in fam.adults]}
            for fam in fams
            for c in fam.children
        ],
        "benefits": benefits,
        "health": health,
    }


# --- applications submitted before the demo starts -------------------------------------------------------------

APPLYING_YEARS = range(2021, 2026)  # birth years the demo groups take whose children may still wait (2020 aged out)
_APPLY_SHARE = 0.8  # of the children born in those years, outside the well-known families
_CHANNELS = (("egov", 0.55), ("kaspi", 0.3), ("halyk", 0.15))


def _kazakh(full_name: str) -> bool:
    surname = full_name.split()[0]
    return surname in _KK_SURNAMES or surname.removesuffix("а") in _KK_SURNAMES


def demo_applications(seed: int = 2026) -> list[dict[str, Any]]:
    """Applications the families of the demo registries submitted before the demo starts, in submission order:
    the applicant (a legal representative), the child, one to four kindergartens by externalId (most wanted
    first, popular kindergartens more often), language, group type, and a start `startsInDays` after the day of
    seeding (0: as soon as possible). Children of the well-known families have none (the README applies).

    Seeding submits them through the use cases (api/seeding.py): queue dates, claims and positions are the app's.
    Drawn from a stream of its own, so that the places and registries stay as they are for the same seed.
    """
    places, sandbox = demo_places(seed), demo_sandbox(seed)
    rng = random.Random(f"applications-{seed}")  # noqa: S311 - reproducible demo data, not secrets
    persons = {p["iin"]: p for p in sandbox["persons"]}
    known = {i for _, adults, children, _ in _WELL_KNOWN for i in (*(a[0] for a in adults), *(c[0] for c in children))}
    special = {b["iin"] for b in sandbox["benefits"] if b["category"] == PriorityCategory.SPECIAL_NEEDS.value}
    # How much families want each kindergarten: state ones more, some of either more still.
    popularity = {
        k["externalId"]: (1.5 if k["ownership"] == Ownership.STATE.value else 1.0) * rng.choice([1, 1, 1.5, 2, 3])
        for k in places["kindergartens"]
    }

    def suits(group: dict[str, Any], year: int, language: str, group_type: str) -> bool:
        years: range = range(group["birthYearFrom"], group["birthYearTo"] + 1)
        return year in years and (group["language"], group["groupType"]) == (language, group_type)

    def fitting(district: str, year: int, language: str, group_type: str) -> list[str]:
        return [
            k["externalId"]
            for k in places["kindergartens"]
            if k["districtCode"] == district and any(suits(g, year, language, group_type) for g in k["groups"])
        ]

    applications: list[dict[str, Any]] = []
    for family in sandbox["families"]:
        child = persons[family["childIin"]]
        year = int(child["birthDate"][:4])
        if child["iin"] in known or not child["alive"] or year not in APPLYING_YEARS or rng.random() >= _APPLY_SHARE:
            continue
        kazakh = _kazakh(child["fullName"])
        language = (_KK if rng.random() < 0.7 else _RU) if kazakh else (_RU if rng.random() < 0.95 else _KK)
        group_type = GroupType.GENERAL.value
        if child["iin"] in special and fitting(child["districtCode"], year, language, GroupType.SPECIAL.value):
            group_type = GroupType.SPECIAL.value
        pool = fitting(child["districtCode"], year, language, group_type)
        if not pool:
            language = _RU if language == _KK else _KK
            pool = fitting(child["districtCode"], year, language, group_type)
        wanted: list[str] = []
        for _ in range(min(len(pool), rng.choices([1, 2, 3, 4], weights=[10, 20, 30, 40])[0])):
            left = [k for k in pool if k not in wanted]
            wanted.append(rng.choices(left, weights=[popularity[k] for k in left])[0])
        applications.append(
            {
                "applicantIin": rng.choice(family["representativeIins"]),
                "childIin": child["iin"],
                "kindergartens": wanted,
                "language": language,
                "groupType": group_type,
                "startsInDays": 0 if rng.random() < 0.8 else rng.randrange(30, 270),
                "channel": rng.choices([c for c, _ in _CHANNELS], weights=[w for _, w in _CHANNELS])[0],
                "notificationLanguage": _KK if kazakh and rng.random() < 0.6 else _RU,
            }
        )
    rng.shuffle(applications)  # families applied in no particular order
    return applications
