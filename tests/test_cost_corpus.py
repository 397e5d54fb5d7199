"""The cost limit against its client corpus (docs/security.md, "Cost map"): every operation the clients send
(bench/queries/*.graphql) validates under the production profile's limits and runs there; the abusive documents
of tests/abusive/ stay within every other limit and are refused by the cost rule."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    validate,
)
from graphql.validation import NoSchemaIntrospectionCustomRule, specified_rules

from api.settings import Profile
from graph.limits import LIST_SIZES, MAX_COST, operation_cost
from graph.schema import _LIMIT_RULES, MAX_ALIASES, MAX_DEPTH, MAX_TOKENS, build_schema
from integrations.sandbox import sandbox_signature
from tests import data
from tests.conftest import OFFERS_POLICY, Kezek, open_kezek
from tests.test_fuzz import _production_channels
from tests.test_subscriptions import Sub, application_probe, connected, gql, latest, offer_probe, serve, settle

ROOT = Path(__file__).parent.parent
CORPUS = ROOT / "bench" / "queries"
ABUSIVE = Path(__file__).parent / "abusive"
SCHEMA = build_schema(production=True)


def _documents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.graphql"))}


def _operations(document: DocumentNode) -> Iterator[OperationDefinitionNode]:
    for d in document.definitions:
        if isinstance(d, OperationDefinitionNode):
            yield d


CORPUS_DOCS = _documents(CORPUS)
ABUSIVE_DOCS = _documents(ABUSIVE)
SUBSCRIPTIONS = CORPUS_DOCS["subscriptions.graphql"]
# Every operation of the corpus: (file, operation name) -> the document's text.
OPERATIONS = {
    (name, op.name.value): text
    for name, text in CORPUS_DOCS.items()
    for op in _operations(parse(text))
    if op.name is not None
}


def test_the_corpus_is_what_the_clients_send() -> None:
    """The bank apps' status query, the eGov application flow, the dashboard page of 50 kindergartens with their
    groups, and the subscriptions are all there; every operation has a name, so a test can run each."""
    assert {
        ("my_children.graphql", "MyChildren"),
        ("egov_application.graphql", "Submit"),
        ("egov_application.graphql", "Sign"),
        ("akimat_dashboard.graphql", "DistrictPage"),
        ("subscriptions.graphql", "SeatOffers"),
        ("subscriptions.graphql", "Vacancies"),
    } <= set(OPERATIONS)
    for name, text in CORPUS_DOCS.items():
        assert all(op.name is not None for op in _operations(parse(text))), name
    page = parse(OPERATIONS[("akimat_dashboard.graphql", "DistrictPage")])
    assert "first: 50" in OPERATIONS[("akimat_dashboard.graphql", "DistrictPage")] and page


def test_every_list_size_names_a_list_field() -> None:
    """The model's expected sizes name fields that exist: a renamed field cannot keep a stale size."""
    types = SCHEMA._schema.type_map
    for key in LIST_SIZES:
        type_name, field_name = key.split(".")
        owner = types[type_name]
        assert isinstance(owner, GraphQLObjectType), key
        assert "[" in str(owner.fields[field_name].type), key


def _cost(text: str) -> dict[str, int]:
    document = parse(text)
    return {
        op.name.value if op.name else "-": operation_cost(SCHEMA._schema, document, op) for op in _operations(document)
    }


@pytest.mark.parametrize("name", sorted(CORPUS_DOCS))
def test_corpus_validates_under_the_production_limits(name: str) -> None:
    """Validated as the production schema validates (depth, aliases and cost rules, no introspection), far below
    the limit: the costliest, the dashboard page, at under a quarter of it."""
    document = parse(CORPUS_DOCS[name], max_tokens=MAX_TOKENS)
    rules = [*specified_rules, *_LIMIT_RULES, NoSchemaIntrospectionCustomRule]
    assert validate(SCHEMA._schema, document, rules) == []
    assert max(_cost(CORPUS_DOCS[name]).values()) <= MAX_COST // 4


@pytest.mark.parametrize("name", sorted(ABUSIVE_DOCS))
async def test_abusive_documents_are_refused_by_the_cost_rule(name: str, db_url: str, tmp_path: Path) -> None:
    """Each stays within the depth, alias and token limits, and only the cost rule refuses it, before it runs."""
    text = ABUSIVE_DOCS[name]
    document = parse(text, max_tokens=MAX_TOKENS)
    assert validate(SCHEMA._schema, document, specified_rules) == []
    aliases = text.count(": kindergartens") + text.count(": myChildren")
    assert aliases <= MAX_ALIASES and _depth(document) <= MAX_DEPTH
    async with open_kezek(db_url, profile=Profile.PRODUCTION, channels_file=_production_channels(tmp_path)) as prod:
        body = await prod.post(text, token=prod.citizen(data.PLAIN.parents[0]))
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY", body
    assert error["extensions"]["cost"] > MAX_COST == error["extensions"]["limit"]


def _depth(document: DocumentNode) -> int:
    """The deepest field nesting of the document's operations, fragments inlined."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def depth(selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        deepest = 0
        for s in selection_set.selections:
            if isinstance(s, FieldNode):
                deepest = max(deepest, 1 + depth(s.selection_set))
            elif isinstance(s, FragmentSpreadNode):
                deepest = max(deepest, depth(fragments[s.name.value].selection_set))
        return deepest

    return max(depth(op.selection_set) - 1 for op in _operations(document))


class Corpus:
    """Runs the corpus' operations by name against one app, each answer free of errors (top level and payload)."""

    def __init__(self, kezek: Kezek) -> None:
        self.kezek = kezek
        self.ran: set[tuple[str, str]] = set()

    async def run(self, file: str, operation: str, token: str | None = None, **variables: Any) -> Any:
        response = await self.kezek.client.post(
            "/graphql",
            json={"query": OPERATIONS[(file, operation)], "operationName": operation, "variables": variables},
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, (operation, body)
        for payload in body["data"].values():
            if isinstance(payload, dict) and "errors" in payload:
                assert payload["errors"] == [], (operation, payload)
        self.ran.add((file, operation))
        return body["data"]


async def test_every_query_and_mutation_of_the_corpus_runs_in_production(db_url: str, tmp_path: Path) -> None:
    """A family applies, is offered a seat, confirms, extends and signs; another lets its offer lapse, restores the
    application and declines; an operator verifies a claim; staff raise a capacity; dashboards read it all."""
    egov, board = "egov_application.graphql", "akimat_dashboard.graphql"
    async with open_kezek(
        db_url, profile=Profile.PRODUCTION, channels_file=_production_channels(tmp_path), policy_file=OFFERS_POLICY
    ) as kezek:
        corpus = Corpus(kezek)
        sha1, sha2, sha3, sha5 = await kezek.kgs("SHA-1", "SHA-2", "SHA-3", "SHA-5")
        await corpus.run("public_queue.graphql", "PublicQueue", kg=sha1, by=2022, lang="RU")
        await corpus.run(board, "Regions")
        found = await corpus.run(
            egov, "SuitableKindergartens", district=data.SHAKHTINSK, birthYear=2022, language="RU", groupType="GENERAL"
        )
        assert sha1 in {e["node"]["id"] for e in found["kindergartens"]["edges"]}

        parent, (first, second) = data.PLAIN.parents[0], data.PLAIN.children[:2]
        citizen = kezek.citizen(parent)
        await corpus.run(egov, "Family", citizen)
        submitted = await corpus.run(
            egov, "Submit", citizen, input={"childIin": first, "kindergartenIds": [sha1, sha2], "language": "RU"}
        )
        app_id = submitted["submitApplication"]["application"]["id"]
        await corpus.run("my_children.graphql", "MyChildren", kezek.citizen(parent, channel="kaspi"))
        offer = (await corpus.run(egov, "Application", citizen, id=app_id))["application"]["offer"]
        assert offer is not None and offer["status"] == "PENDING", offer
        await corpus.run(egov, "Confirm", citizen, input={"offerId": offer["id"]})
        contract = (await corpus.run(egov, "Extend", citizen, input={"offerId": offer["id"]}))["extendContract"]
        signature = sandbox_signature(parent, contract["offer"]["contract"]["documentHash"])
        signed = await corpus.run(
            egov, "Sign", citizen, input={"contractId": contract["offer"]["contract"]["id"], "signature": signature}
        )
        assert signed["signContract"]["offer"]["status"] == "ENROLLED"

        later = (dt.date.today() + dt.timedelta(days=300)).isoformat()  # waits: no offer before that day
        waiting = await corpus.run(
            egov,
            "Submit",
            citizen,
            input={"childIin": second, "kindergartenIds": [sha3], "language": "RU", "desiredStartDate": later},
        )
        waiting_id = waiting["submitApplication"]["application"]["id"]
        await corpus.run(
            egov, "ChangeChoices", citizen, input={"applicationId": waiting_id, "kindergartenIds": [sha3, sha5]}
        )

        military = data.MILITARY
        await kezek.submit(military.parents[0], military.children[0], ["SHA-5"])
        operator = kezek.operator()
        claims = (await corpus.run(board, "ClaimsToVerify", operator))["priorityClaimsToVerify"]["edges"]
        claim = next(e["node"]["id"] for e in claims if e["node"]["category"] == "MILITARY")
        await corpus.run(board, "Verify", operator, input={"claimId": claim, "approve": True, "note": "checked"})
        await corpus.run(board, "Area", operator, region=data.KARAGANDA_REGION, district=data.SHAKHTINSK)

        staff = kezek.staff("SHA-1")
        groups = (await corpus.run(board, "StaffKindergarten", staff))["viewer"]["kindergarten"]["groups"]
        group = next(g for g in groups if g["birthYearFrom"] == 2023 and g["language"] == "RU")
        await corpus.run(board, "SetCapacity", staff, input={"groupId": group["id"], "capacity": group["capacity"] + 2})
        await corpus.run(board, "DistrictPage", district=data.SHAKHTINSK)
        await corpus.run(board, "Queue", kindergarten=sha1, birthYear=2023, language="RU", groupType="GENERAL")

        other = data.OTHER
        lapsing = (await kezek.submit(other.parents[0], other.children[0], ["SHA-2"]))["application"]["id"]
        kezek.clock.advance(dt.timedelta(days=30))  # past the response window: the worker lapses the offer
        assert (await kezek.worker_pass())["offers_lapsed"] >= 1
        other_citizen = kezek.citizen(other.parents[0])
        restored = await corpus.run(egov, "Restore", other_citizen, input={"applicationId": lapsing})
        again = (await corpus.run(egov, "Application", other_citizen, id=lapsing))["application"]["offer"]
        assert restored["restoreApplication"]["application"] and again is not None, again
        await corpus.run(egov, "Decline", other_citizen, input={"offerId": again["id"]})
    subscriptions = {k for k in OPERATIONS if k[0] == "subscriptions.graphql"}
    assert corpus.ran == set(OPERATIONS) - subscriptions, set(OPERATIONS) - subscriptions - corpus.ran


@contextlib.asynccontextmanager
async def _subscribe(base: str, token: str, operation: str, variables: dict[str, Any]) -> AsyncIterator[Sub]:
    """One operation of the corpus' subscriptions document on its own socket."""
    field = {"SeatOffers": "seatOffers", "ApplicationUpdates": "applicationUpdates", "Vacancies": "vacancyUpdates"}
    async with connected(base, token) as ws:
        payload = {"query": SUBSCRIPTIONS, "operationName": operation, "variables": variables}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        yield Sub(ws, field[operation])


async def test_every_subscription_of_the_corpus_runs_in_production(db_url: str, tmp_path: Path) -> None:
    """On a production `kezek serve`, each subscription of the corpus is accepted and delivers its events: a
    parent's seat offers and application updates, a dashboard's seat events after its last cursor."""
    assert {op.name.value for op in _operations(parse(SUBSCRIPTIONS)) if op.name} == {
        "SeatOffers",
        "ApplicationUpdates",
        "Vacancies",
    }
    env = {"KEZEK_PROFILE": "production", "KEZEK_CHANNELS_FILE": str(_production_channels(tmp_path))}
    family = data.PLAIN
    citizen = Kezek.citizen(family.parents[0])
    async with serve(db_url, OFFERS_POLICY, extra_env=env) as [base]:
        found = await gql(base, '{ kindergartens(filter: {search: "SHA-1"}) { edges { node { id } } } }')
        sha1 = found["kindergartens"]["edges"][0]["node"]["id"]
        submit = "mutation($i: SubmitApplicationInput!) { submitApplication(input: $i) { application { id } } }"
        variables = {"i": {"childIin": family.children[0], "kindergartenIds": [sha1], "language": "RU"}}
        app_id = (await gql(base, submit, variables, citizen))["submitApplication"]["application"]["id"]
        shown = await gql(base, "query($id: ID!) { application(id: $id) { offer { id } } }", {"id": app_id}, citizen)
        offer_id = shown["application"]["offer"]["id"]
        after = await latest(db_url)
        async with (
            _subscribe(base, citizen, "SeatOffers", {}) as offers,
            _subscribe(base, citizen, "ApplicationUpdates", {"id": app_id}) as updates,
            _subscribe(base, Kezek.operator(), "Vacancies", {"region": data.KARAGANDA_REGION, **after}) as vacancies,
        ):
            # Live-only subscriptions first hear probes through the corpus' own documents.
            await settle(
                db_url, (offers, offer_probe(family.children[0], int(offer_id))), (updates, application_probe(app_id))
            )
            confirm = "mutation($o: ID!) { confirmOffer(input: {offerId: $o}) { errors { code } } }"
            assert (await gql(base, confirm, {"o": offer_id}, citizen))["confirmOffer"]["errors"] == []
            assert (await updates.event())["kind"] == "OFFER_CHANGED"
            assert (await vacancies.event())["kind"] == "OFFER_CONFIRMED"
