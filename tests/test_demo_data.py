"""The demo data generator (api/demo.py): deterministic, well-formed, and shaped as the README promises."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from typing import Any

import pytest

from api import demo
from domain import iin
from domain.model import GroupType, Language, Ownership, PriorityCategory, PriorityTier

DISTRICTS = {demo.SHAKHTINSK, demo.PETROPAVLOVSK}


@pytest.fixture(scope="module")
def places() -> dict[str, Any]:
    return demo.demo_places()


@pytest.fixture(scope="module")
def sandbox() -> dict[str, Any]:
    return demo.demo_sandbox()


@pytest.fixture(scope="module")
def persons(sandbox: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["iin"]: p for p in sandbox["persons"]}


@pytest.fixture(scope="module")
def households(sandbox: dict[str, Any]) -> dict[tuple[str, ...], list[str]]:
    """Representatives -> their children: one entry per family."""
    out: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for f in sandbox["families"]:
        out[tuple(f["representativeIins"])].append(f["childIin"])
    return out


def test_deterministic() -> None:
    assert json.dumps(demo.demo_places(7)) == json.dumps(demo.demo_places(7))
    assert json.dumps(demo.demo_sandbox(7)) == json.dumps(demo.demo_sandbox(7))
    assert demo.demo_sandbox(7) != demo.demo_sandbox(8)
    json.dumps(demo.demo_places(), ensure_ascii=False)  # plain JSON values only
    json.dumps(demo.demo_sandbox(), ensure_ascii=False)


def test_regions(places: dict[str, Any]) -> None:
    regions = {r["code"]: r for r in places["regions"]}
    assert set(regions) == {"350000000", "590000000"}
    assert regions["350000000"]["nameRu"] == "Карагандинская область"
    assert regions["350000000"]["districts"][0] == {
        "code": "352400000",
        "nameKk": "Шахтинск қаласы",
        "nameRu": "город Шахтинск",
    }
    assert regions["590000000"]["nameKk"] == "Солтүстік Қазақстан облысы"
    assert regions["590000000"]["districts"][0]["code"] == "591000000"


def test_kindergartens(places: dict[str, Any]) -> None:
    kgs = places["kindergartens"]
    assert len(kgs) >= 30
    assert len({k["externalId"] for k in kgs}) == len(kgs)
    by_district = Counter(k["districtCode"] for k in kgs)
    assert set(by_district) == DISTRICTS and min(by_district.values()) >= 10
    assert {k["ownership"] for k in kgs} == {o.value for o in Ownership}
    assert {k["stateOrder"] for k in kgs} == {True, False}
    for k in kgs:
        assert k["externalId"].startswith(("KZ-SHA-DS-", "KZ-PET-DS-"))
        assert k["nameKk"] and k["nameRu"] and k["address"]
        ids = [g["externalId"] for g in k["groups"]]
        assert ids and len(set(ids)) == len(ids)
        for g in k["groups"]:
            assert 2020 <= g["birthYearFrom"] <= g["birthYearTo"] <= 2025
            assert 15 <= g["capacity"] <= 30
            assert g["language"] in {lang.value for lang in Language}
            assert g["groupType"] in {t.value for t in GroupType}


def test_groups_cover_years_and_languages(places: dict[str, Any]) -> None:
    for district in DISTRICTS:
        groups = [g for k in places["kindergartens"] if k["districtCode"] == district for g in k["groups"]]
        covered = {
            (y, g["language"])
            for g in groups
            if g["groupType"] == "GENERAL"
            for y in range(g["birthYearFrom"], g["birthYearTo"] + 1)
        }
        assert {(y, lang) for y in range(2020, 2026) for lang in ("KK", "RU")} <= covered
        assert any(g["groupType"] == "SPECIAL" for g in groups)
    groups = [g for k in places["kindergartens"] for g in k["groups"]]
    types = Counter(g["groupType"] for g in groups)
    assert types["SPECIAL"] >= 3 and types["SANATORIUM"] >= 1
    assert any(g["birthYearFrom"] < g["birthYearTo"] and g["groupType"] == "GENERAL" for g in groups)


def test_persons_and_iins(sandbox: dict[str, Any], persons: dict[str, dict[str, Any]]) -> None:
    assert len(persons) == len(sandbox["persons"])  # unique IINs
    phones = [p["phone"] for p in sandbox["persons"] if p["phone"] is not None]
    assert len(set(phones)) == len(phones)
    for p in sandbox["persons"]:
        assert iin.is_valid(p["iin"]), p
        assert iin.birth_date(p["iin"]) == dt.date.fromisoformat(p["birthDate"])
        assert iin.sex(p["iin"]) == p["sex"]
        assert p["districtCode"] in DISTRICTS
        assert len(p["fullName"].split()) == 3
        assert isinstance(p["alive"], bool)
        assert p["phone"] is None or (p["phone"].startswith("+77") and len(p["phone"]) == 12)
    assert 3 <= sum(not p["alive"] for p in sandbox["persons"]) <= 20


def test_families(
    sandbox: dict[str, Any], persons: dict[str, dict[str, Any]], households: dict[tuple[str, ...], list[str]]
) -> None:
    assert len(households) >= 500
    children = [f["childIin"] for f in sandbox["families"]]
    assert len(set(children)) == len(children)
    adults = [a for reps in households for a in reps]
    assert len(set(adults)) == len(adults)  # nobody represents two families
    for reps, kids in households.items():
        assert 1 <= len(reps) <= 2 and 1 <= len(kids) <= 5
        for a in reps:
            assert 1980 <= dt.date.fromisoformat(persons[a]["birthDate"]).year <= 2000
            assert persons[a]["phone"] and persons[a]["alive"]
        for c in kids:
            assert 2020 <= dt.date.fromisoformat(persons[c]["birthDate"]).year <= 2026
            assert persons[c]["districtCode"] == persons[reps[0]]["districtCode"]
    assert sum(len(kids) >= 3 for kids in households.values()) >= 30
    twins = [kids for kids in households.values() if len({persons[c]["birthDate"] for c in kids}) < len(kids)]
    assert len(twins) >= 3
    years = Counter(dt.date.fromisoformat(persons[c]["birthDate"]).year for c in children)
    assert years[2026] < len(children) * 0.05  # mostly 2020-2025
    assert set(children) | set(adults) == set(persons)


def test_benefits(
    sandbox: dict[str, Any], persons: dict[str, dict[str, Any]], households: dict[tuple[str, ...], list[str]]
) -> None:
    benefits = sandbox["benefits"]
    counts = Counter(b["category"] for b in benefits)
    assert all(counts[c.value] >= 3 for c in PriorityCategory), counts
    assert len({b["evidenceId"] for b in benefits}) == len(benefits)
    child_iins = {f["childIin"] for f in sandbox["families"]}
    on_child = {"ORPHAN", "DISABLED_CHILD", "SPECIAL_NEEDS"}
    for b in benefits:
        assert b["iin"] in persons
        assert (b["iin"] in child_iins) == (b["category"] in on_child), b
        assert b["evidenceId"].startswith("BEN-") and len(b["evidenceId"]) == 10
    by_person: dict[str, set[str]] = defaultdict(set)
    for b in benefits:
        by_person[b["iin"]].add(b["category"])
    tiers = []
    for reps, kids in households.items():
        cats = set().union(*(by_person[i] for i in (*reps, *kids)))
        tiers.append({PriorityCategory(c).tier for c in cats})
        if len(kids) >= 4:
            assert "LARGE_FAMILY" in cats
    extraordinary = sum(PriorityTier.EXTRAORDINARY in t for t in tiers) / len(tiers)
    primary = sum(PriorityTier.PRIMARY in t for t in tiers) / len(tiers)
    assert 0 < extraordinary < 0.02
    assert 0.04 <= primary <= 0.12


def test_health(sandbox: dict[str, Any], persons: dict[str, dict[str, Any]]) -> None:
    health = sandbox["health"]
    child_iins = {f["childIin"] for f in sandbox["families"]}
    assert len({h["documentId"] for h in health}) == len(health)
    for h in health:
        assert h["childIin"] in child_iins
        assert h["kind"] in {"VACCINATION_CARD", "MEDICAL_RECORD", "SPECIAL_NEEDS_CONCLUSION"}
        assert persons[h["childIin"]]["birthDate"] <= h["issuedOn"] <= "2026-02-28"
    kinds: dict[str, set[str]] = defaultdict(set)
    for h in health:
        kinds[h["childIin"]].add(h["kind"])
    complete = sum({"VACCINATION_CARD", "MEDICAL_RECORD"} <= kinds[c] for c in child_iins)
    assert len(child_iins) * 0.7 < complete < len(child_iins)  # most, not all
    special = {b["iin"] for b in sandbox["benefits"] if b["category"] == "SPECIAL_NEEDS"}
    assert all("SPECIAL_NEEDS_CONCLUSION" in kinds[c] for c in special)


def test_well_known(
    sandbox: dict[str, Any], persons: dict[str, dict[str, Any]], households: dict[tuple[str, ...], list[str]]
) -> None:
    known = (
        demo.DEMO_PARENT_IIN,
        demo.DEMO_OTHER_PARENT_IIN,
        demo.DEMO_MILITARY_PARENT_IIN,
        *demo.DEMO_PARENT_CHILD_IINS,
        demo.DEMO_MILITARY_CHILD_IIN,
    )
    assert all(iin.is_valid(i) and i in persons for i in known)
    first = [f["childIin"] for f in sandbox["families"][:4]]
    assert first[:2] == list(demo.DEMO_PARENT_CHILD_IINS)

    def family_of(parent: str) -> tuple[tuple[str, ...], list[str]]:
        [(reps, kids)] = [(r, k) for r, k in households.items() if parent in r]
        return reps, kids

    benefit_iins = {b["iin"] for b in sandbox["benefits"]}
    reps, kids = family_of(demo.DEMO_PARENT_IIN)
    assert sorted(persons[c]["birthDate"][:4] for c in kids) == ["2022", "2023"]
    assert sorted(kids) == sorted(demo.DEMO_PARENT_CHILD_IINS)
    assert all(persons[p]["districtCode"] == demo.SHAKHTINSK for p in (*reps, *kids))
    assert not benefit_iins & {*reps, *kids}
    assert all(persons[c]["alive"] for c in kids)

    other_reps, other_kids = family_of(demo.DEMO_OTHER_PARENT_IIN)
    assert other_reps != reps and not set(other_kids) & set(kids)

    mil_reps, mil_kids = family_of(demo.DEMO_MILITARY_PARENT_IIN)
    assert mil_kids == [demo.DEMO_MILITARY_CHILD_IIN]
    assert persons[demo.DEMO_MILITARY_CHILD_IIN]["birthDate"].startswith("2023")
    assert {(b["iin"], b["category"]) for b in sandbox["benefits"] if b["iin"] in (*mil_reps, *mil_kids)} == {
        (demo.DEMO_MILITARY_PARENT_IIN, "MILITARY")
    }


def test_applications(places: dict[str, Any], sandbox: dict[str, Any], persons: dict[str, dict[str, Any]]) -> None:
    """The families who applied before the demo: each a representative applying for a living child of the years
    the groups take, for one to four kindergartens of the child's town that have a group for it; hundreds in
    each town; none from the well-known families (the README applies for them)."""
    apps = demo.demo_applications()
    assert json.dumps(apps) == json.dumps(demo.demo_applications()) != json.dumps(demo.demo_applications(7))
    kgs = {k["externalId"]: k for k in places["kindergartens"]}
    reps = {f["childIin"]: f["representativeIins"] for f in sandbox["families"]}
    known = {demo.DEMO_PARENT_IIN, demo.DEMO_OTHER_PARENT_IIN, demo.DEMO_MILITARY_PARENT_IIN}
    assert len({a["childIin"] for a in apps}) == len(apps)
    for a in apps:
        child = persons[a["childIin"]]
        year = int(child["birthDate"][:4])
        assert child["alive"] and year in demo.APPLYING_YEARS and a["applicantIin"] in reps[a["childIin"]], a
        assert not known & set(reps[a["childIin"]]), a
        assert 1 <= len(a["kindergartens"]) == len(set(a["kindergartens"])) <= 4, a
        for ext in a["kindergartens"]:
            assert kgs[ext]["districtCode"] == child["districtCode"], a
            assert any(
                g["birthYearFrom"] <= year <= g["birthYearTo"]
                and (g["language"], g["groupType"]) == (a["language"], a["groupType"])
                for g in kgs[ext]["groups"]
            ), a
        assert a["channel"] in {"egov", "kaspi", "halyk"} and 0 <= a["startsInDays"] < 300
    towns = Counter(persons[a["childIin"]]["districtCode"] for a in apps)
    assert min(towns.values()) >= 500 and set(towns) == DISTRICTS, towns
    assert Counter(a["groupType"] for a in apps)["SPECIAL"] >= 3
    assert {a["language"] for a in apps} == {"KK", "RU"}
