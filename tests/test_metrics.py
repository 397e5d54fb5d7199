"""GET /metrics (docs/operations.md "Metrics"): Prometheus' text format, request latency by operation name with
bounded labels, errors by code, the database gauges (outbox, live offers, the allocation queue) and their cache,
allocation durations, database pools, open subscriptions, and the optional scrape token."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import api.metrics
from api.metrics import OBSERVER, OTHER
from tests import data
from tests.conftest import OFFERS_POLICY, Kezek, open_kezek
from tests.test_shared_subscriptions import LIVE, operator, served, until
from tests.test_subscriptions import subscribe

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
REGIONS = "query Regions { regions { code } }"


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over the samples of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


@contextlib.asynccontextmanager
async def fresh_readings(kezek: Kezek) -> AsyncIterator[None]:
    """Every scrape reads the database (no cache), for tests that change it between scrapes."""
    scraped = kezek.app.state.metrics.scraped
    scraped.ttl = 0
    yield


async def test_every_metric_is_exposed_without_personal_data(kezek: Kezek) -> None:
    await kezek.submit(data.PLAIN.parents[0], data.PLAIN.children[0], ["SHA-1"])
    await kezek.post(REGIONS)
    response = await kezek.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = {f.name: f.type for f in text_string_to_metric_families(response.text)}
    expected = {
        "kezek_request_duration_seconds": "histogram",
        "kezek_errors": "counter",
        "kezek_allocation_duration_seconds": "histogram",
        "kezek_intake_duration_seconds": "histogram",
        "kezek_outbox_unsent": "gauge",
        "kezek_outbox_unsent_retrying": "gauge",
        "kezek_outbox_oldest_unsent_age_seconds": "gauge",
        "kezek_offers": "gauge",
        "kezek_offers_overdue": "gauge",
        "kezek_allocation_queue_groups": "gauge",
        "kezek_allocation_queue_overdue_seconds": "gauge",
        "kezek_broker_subscribers": "gauge",
        "kezek_subscription_executions": "gauge",
        "kezek_subscription_members": "gauge",
        "kezek_mutations_running": "gauge",
        "kezek_mutations_waiting": "gauge",
        "kezek_mutations_limit": "gauge",
        "kezek_db_pool_connections": "gauge",
        "kezek_db_pool_in_use": "gauge",
        "kezek_db_pool_max": "gauge",
        "kezek_database_up": "gauge",
        "process_cpu_seconds": "counter",
    }
    assert {name: families.get(name) for name in expected} == expected
    assert value(parse(response.text), "kezek_database_up") == 1
    # No IIN, phone number or name: no run of six digits outside the numbers themselves.
    for line in response.text.splitlines():
        if not line.startswith("#"):
            labels = line.rsplit(" ", 1)[0]
            assert not re.search(r"\d{6}", labels.split("{", 1)[-1]), line


async def test_request_latency_by_operation_name_with_bounded_labels(
    kezek: Kezek, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api.metrics, "MAX_OPERATIONS", 2)
    monkeypatch.setattr(OBSERVER, "_operations", set())
    before = await scrape(kezek.client)
    names = ["q920415441011", "StatusA", "StatusA", "StatusB", "StatusC", None]
    for name in names:
        query = f"query {name} {{ regions {{ code }} }}" if name else "{ regions { code } }"
        response = await kezek.client.post("/graphql", json={"query": query, "operationName": name})
        assert "errors" not in response.json()
    after = await scrape(kezek.client)

    def counted(operation: str) -> float:
        key = "kezek_request_duration_seconds_count"
        return value(after, key, operation=operation) - value(before, key, operation=operation)

    # A name with a run of digits is OTHER (and takes no label); the first two others get labels, a third and
    # no name are OTHER.
    assert (counted("StatusA"), counted("StatusB"), counted(OTHER)) == (2, 1, 3)
    labels = {dict(ls).get("operation") for (n, ls) in after if n == "kezek_request_duration_seconds_count"}
    assert "StatusC" not in labels and "q920415441011" not in labels


async def test_errors_are_counted_by_code(kezek: Kezek, monkeypatch: pytest.MonkeyPatch) -> None:
    before = await scrape(kezek.client)
    await kezek.post('{ kindergarten(id: "999999") { id } }')  # NOT_FOUND
    await kezek.post("{ myChildren { iin } }")  # UNAUTHENTICATED in the schema
    await kezek.post("{ viewer { role } }", token="not-a-jwt")  # UNAUTHENTICATED before it
    group = (await kezek.sql("SELECT id FROM groups ORDER BY id LIMIT 1"))[0]["id"]
    set_capacity = """mutation($g: ID!) { setGroupCapacity(input: {groupId: $g, capacity: -1}) { errors { code } } }"""
    await kezek.gql(set_capacity, {"g": str(group)}, kezek.operator())  # a payload INVALID_INPUT

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the reader broke")

    monkeypatch.setattr(kezek.container.services.reader, "regions", broken)
    await kezek.post(REGIONS)  # a fault
    after = await scrape(kezek.client)

    def counted(code: str, where: str) -> float:
        key = "kezek_errors_total"
        return value(after, key, code=code, where=where) - value(before, key, code=code, where=where)

    assert counted("NOT_FOUND", "top_level") == 1
    assert counted("UNAUTHENTICATED", "top_level") == 2
    assert counted("INVALID_INPUT", "payload") == 1
    assert counted("INTERNAL", "top_level") == 1
    assert counted("INVALID_INPUT", "top_level") == 0


async def test_database_gauges_follow_the_outbox_offers_and_allocation_queue(db_url: str) -> None:
    async with open_kezek(db_url, policy_file=OFFERS_POLICY) as kezek, fresh_readings(kezek):
        before = await scrape(kezek.client)
        assert value(before, "kezek_offers", status="PENDING") == 0
        assert value(before, "kezek_outbox_unsent") == 0
        assert value(before, "kezek_outbox_oldest_unsent_age_seconds") == 0
        # A submission to a kindergarten with free seats: an offer at once, and its SMS waiting in the outbox.
        payload = await kezek.submit(data.PLAIN.parents[0], data.PLAIN.children[0], ["SHA-1"])
        assert payload["errors"] == []
        await kezek.sql(
            "UPDATE outbox SET created_at = now() - interval '1 hour' WHERE id = (SELECT min(id) FROM outbox)"
        )
        unsent = (await kezek.sql("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))[0][0]
        after = await scrape(kezek.client)
        assert value(after, "kezek_offers", status="PENDING") == 1
        assert value(after, "kezek_offers", status="CONFIRMED") == 0
        assert value(after, "kezek_offers_overdue") == 0
        assert unsent >= 1 and value(after, "kezek_outbox_unsent") == unsent
        assert 3600 <= value(after, "kezek_outbox_oldest_unsent_age_seconds") < 3900
        allocations = total(after, "kezek_allocation_duration_seconds_count")
        assert allocations - total(before, "kezek_allocation_duration_seconds_count") >= 1

        await kezek.sql("UPDATE offers SET respond_by = now() - interval '1 minute'")
        group = (await kezek.sql("SELECT id FROM groups ORDER BY id LIMIT 1"))[0]["id"]
        await kezek.sql(
            "INSERT INTO allocation_queue (group_id, due_at) VALUES ($1, now() - interval '10 minutes')", group
        )
        late = await scrape(kezek.client)
        assert value(late, "kezek_offers_overdue") == 1
        assert value(late, "kezek_allocation_queue_groups") == 1
        assert 600 <= value(late, "kezek_allocation_queue_overdue_seconds") < 900

        await kezek.sql("DELETE FROM allocation_queue")
        await kezek.sql("UPDATE offers SET respond_by = now() + interval '1 day'")
        sent = await kezek.worker_pass()
        assert sent["sms_sent"] == unsent
        drained = await scrape(kezek.client)
        assert value(drained, "kezek_outbox_unsent") == 0
        assert value(drained, "kezek_outbox_oldest_unsent_age_seconds") == 0
        assert value(drained, "kezek_allocation_queue_groups") == 0


async def test_database_gauges_are_read_once_in_a_while(kezek: Kezek) -> None:
    first = await scrape(kezek.client)
    assert value(first, "kezek_outbox_unsent") == 0
    await kezek.sql(
        """INSERT INTO outbox (message_id, created_at, recipient, text, language, kind, next_attempt_at)
        VALUES ('m-1', now(), '+77010000000', 'text', 'RU', 'TEST', now())"""
    )
    with kezek.count_statements() as statements:
        for _ in range(5):
            cached = await scrape(kezek.client)
    assert statements == []  # a storm of scrapes asks the database nothing while the reading is fresh
    assert value(cached, "kezek_outbox_unsent") == 0
    async with fresh_readings(kezek):
        assert value(await scrape(kezek.client), "kezek_outbox_unsent") == 1


async def test_pool_gauges(kezek: Kezek) -> None:
    await kezek.post('{ kindergarten(id: "1") { id nameRu } }')  # a request's own connection
    await kezek.worker_pass()  # the engine's pool
    idle = await scrape(kezek.client)
    for pool in ("request", "engine"):
        assert value(idle, "kezek_db_pool_connections", pool=pool) >= 1, pool
        assert value(idle, "kezek_db_pool_in_use", pool=pool) == 0, pool
    assert value(idle, "kezek_db_pool_max", pool="request") == kezek.container.settings.db_pool_size
    assert value(idle, "kezek_db_pool_max", pool="engine") == 2 * kezek.container.settings.db_pool_size
    pools = kezek.container.pools
    assert pools is not None
    async with (await pools.get("request")).acquire(), (await pools.get("request")).acquire():
        busy = await scrape(kezek.client)
    assert value(busy, "kezek_db_pool_in_use", pool="request") == 2
    assert value(busy, "kezek_db_pool_connections", pool="request") >= 2


async def test_subscription_gauges(db_url: str) -> None:
    async with served(db_url) as s, httpx.AsyncClient(base_url=f"http://{s.base}", timeout=10) as client:
        idle = await scrape(client)
        assert [value(idle, n) for n in ("kezek_broker_subscribers", "kezek_subscription_members")] == [0, 0]
        async with subscribe(s.base, operator("operator-1"), LIVE), subscribe(s.base, operator("operator-2"), LIVE):
            await until(lambda: s.hub.members == 2 and s.broker_subscriptions == 1, "both subscriptions are live")
            live = await scrape(client)
            assert value(live, "kezek_subscription_members") == 2
            assert value(live, "kezek_subscription_executions") == s.hub.running >= 1
            assert value(live, "kezek_broker_subscribers") == 1  # one shared execution, one broker subscription
        await until(lambda: s.hub.members == 0 and s.broker_subscriptions == 0, "the subscriptions ended")
        gone = await scrape(client)
        assert [value(gone, n) for n in ("kezek_broker_subscribers", "kezek_subscription_members")] == [0, 0]


async def test_a_metrics_token_guards_the_endpoint(db_url: str) -> None:
    async with open_kezek(db_url, metrics_token="scrape-token-1") as kezek:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-token-1"}):
            refused = await kezek.client.get("/metrics", headers=headers)
            assert refused.status_code == 401 and "kezek_" not in refused.text, headers
        assert value(await scrape(kezek.client, authorization="Bearer scrape-token-1"), "kezek_database_up") == 1
        # The token is for /metrics only: GraphQL is served as before.
        assert (await kezek.gql(REGIONS))["regions"]
