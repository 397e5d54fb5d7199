"""HTTP adapters against a real local HTTP server (Starlette served by uvicorn in a thread)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypedDict

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain import iin as iins
from domain.errors import RegistryUnavailable
from domain.model import BenefitFinding, Language, Person, PriorityCategory
from domain.ports import HealthDocument
from integrations.http import (
    HttpBenefitsRegistry,
    HttpESignature,
    HttpHealthRegistry,
    HttpPopulationRegistry,
    HttpSmsGateway,
    SmsSendFailed,
)
from tests.local_server import serve_in_thread

CHILD = iins.make(dt.date(2022, 5, 17), male=True, serial=1)
MOTHER = iins.make(dt.date(1994, 2, 3), male=False, serial=2)
FATHER = iins.make(dt.date(1992, 11, 30), male=True, serial=3)
UNKNOWN = iins.make(dt.date(1990, 1, 1), male=True, serial=4)

PERSONS = {
    CHILD: {
        "iin": CHILD,
        "fullName": "Асанов Нурлан",
        "birthDate": "2022-05-17",
        "sex": "M",
        "alive": True,
        "districtCode": "351010000",
        "phone": None,
    },
    MOTHER: {
        "iin": MOTHER,
        "fullName": "Асанова Айгерим",
        "birthDate": "1994-02-03",
        "sex": "F",
        "alive": True,
        "districtCode": "351010000",
        "phone": "+77011234567",
    },
}


class _Fast(TypedDict):
    timeout: float
    backoff: float


FAST: _Fast = {"timeout": 2.0, "backoff": 0.01}


@dataclass
class Stub:
    """What the server saw and how it should misbehave; shared with the server thread."""

    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    # Consumed one per request before normal handling: an int answers with that status, "hang" does not answer
    # while the test runs (then 504), "not-json" and "wrong-shape" answer 200 with a bad body.
    script: list[int | str] = field(default_factory=list)
    always: int | None = None  # answer every request with this status
    sms_status: int = 202
    generation: int = 0  # a hanging request is let go once the test that made it ends

    def reset(self) -> None:
        self.generation += 1
        self.calls.clear()
        self.script.clear()
        self.always = None
        self.sms_status = 202


def _app(stub: Stub) -> Starlette:
    async def misbehave(request: Request) -> Response | None:
        body = await request.json() if request.method == "POST" else None
        stub.calls.append((request.method, request.url.path, body))
        if stub.always is not None:
            return Response(status_code=stub.always)
        if stub.script:
            action = stub.script.pop(0)
            if action == "hang":
                # No answer while the test runs: only the client's own timeout ends the request. (Were the
                # timeout ignored, the client would see this 504 instead of a timeout.)
                generation = stub.generation
                for _ in range(400):  # 20 s at most, far beyond any client timeout used here
                    if stub.generation != generation:
                        break
                    await asyncio.sleep(0.05)
                return Response(status_code=504)
            if action == "not-json":
                return Response("<html>maintenance</html>", media_type="text/html")
            if action == "wrong-shape":
                return JSONResponse({"iins": "none", "fullName": 7})
            assert isinstance(action, int)
            return Response(status_code=action)
        return None

    async def person(request: Request) -> Response:
        if (r := await misbehave(request)) is not None:
            return r
        p = PERSONS.get(request.path_params["iin"])
        return JSONResponse(p) if p else JSONResponse({"error": "not found"}, status_code=404)

    async def representatives(request: Request) -> Response:
        if (r := await misbehave(request)) is not None:
            return r
        if request.path_params["iin"] != CHILD:
            return Response(status_code=404)
        return JSONResponse({"iins": [MOTHER, FATHER]})

    async def children(request: Request) -> Response:
        if (r := await misbehave(request)) is not None:
            return r
        found = [CHILD] if request.path_params["iin"] in (MOTHER, FATHER) else []
        return JSONResponse({"iins": found})

    async def benefits(request: Request) -> Response:
        if (r := await misbehave(request)) is not None:
            return r
        asked = set((await request.json())["iins"])
        findings = [
            {"iin": MOTHER, "category": "LARGE_FAMILY", "evidenceId": "LF-1", "needsManualCheck": False},
            {"iin": FATHER, "category": "MILITARY", "evidenceId": "MIL-7", "needsManualCheck": True},
            {"iin": FATHER, "category": "SOMETHING_NEW", "evidenceId": "X-1", "needsManualCheck": False},
        ]
        return JSONResponse({"findings": [f for f in findings if f["iin"] in asked]})

    async def health(request: Request) -> Response:
        if (r := await misbehave(request)) is not None:
            return r
        if request.path_params["iin"] != CHILD:
            return JSONResponse({"documents": []})
        return JSONResponse({"documents": [{"kind": "FORM_026", "documentId": "H-42", "issuedOn": "2026-02-01"}]})

    async def verify(request: Request) -> Response:
        if (r := await misbehave(request)) is not None:
            return r
        body = await request.json()
        return JSONResponse({"valid": body["iin"] == MOTHER and body["signature"] == "good"})

    async def sms(request: Request) -> Response:
        if (r := await misbehave(request)) is not None:
            return r
        return Response(status_code=stub.sms_status)

    return Starlette(
        routes=[
            Route("/persons/{iin}", person),
            Route("/persons/{iin}/representatives", representatives),
            Route("/persons/{iin}/children", children),
            Route("/benefits/search", benefits, methods=["POST"]),
            Route("/health/{iin}/documents", health),
            Route("/verify", verify, methods=["POST"]),
            Route("/sms", sms, methods=["POST"]),
        ]
    )


@dataclass
class Server:
    url: str
    stub: Stub


@pytest.fixture(scope="session")
def server_session() -> Iterator[Server]:
    stub = Stub()
    with serve_in_thread(_app(stub)) as url:
        yield Server(url, stub)


@pytest.fixture
def server(server_session: Server) -> Iterator[Server]:
    server_session.stub.reset()
    yield server_session
    server_session.stub.reset()


@pytest.fixture
def dead_url() -> str:
    # A port nobody listens on: connections are refused at once.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


# --- success paths -------------------------------------------------------------------------------


async def test_population_person(server: Server) -> None:
    async with HttpPopulationRegistry(server.url, retries=0, **FAST) as reg:
        child = await reg.person(CHILD)
        mother = await reg.person(MOTHER)
    assert child == Person(
        iin=CHILD,
        full_name="Асанов Нурлан",
        birth_date=dt.date(2022, 5, 17),
        sex="M",
        alive=True,
        district_code="351010000",
        phone=None,
    )
    assert mother is not None and mother.phone == "+77011234567"


async def test_population_unknown_person_is_none(server: Server) -> None:
    async with HttpPopulationRegistry(server.url + "/", retries=2, **FAST) as reg:
        assert await reg.person(UNKNOWN) is None
        assert await reg.representatives(UNKNOWN) == []
    # A 404 is an answer, not a failure: no retries.
    assert [c[1] for c in server.stub.calls] == [f"/persons/{UNKNOWN}", f"/persons/{UNKNOWN}/representatives"]


async def test_population_relatives(server: Server) -> None:
    async with HttpPopulationRegistry(server.url, retries=0, **FAST) as reg:
        assert await reg.representatives(CHILD) == [MOTHER, FATHER]
        assert await reg.children(MOTHER) == [CHILD]
        assert await reg.children(CHILD) == []


async def test_benefits_findings(server: Server) -> None:
    async with HttpBenefitsRegistry(server.url, retries=0, **FAST) as reg:
        found = await reg.findings([CHILD, MOTHER, FATHER])
        assert await reg.findings([]) == []
    assert found == [
        BenefitFinding(MOTHER, PriorityCategory.LARGE_FAMILY, "LF-1", needs_manual_check=False),
        BenefitFinding(FATHER, PriorityCategory.MILITARY, "MIL-7", needs_manual_check=True),
    ]
    # The empty search never reached the server.
    assert server.stub.calls == [("POST", "/benefits/search", {"iins": [CHILD, MOTHER, FATHER]})]


async def test_health_documents(server: Server) -> None:
    async with HttpHealthRegistry(server.url, retries=0, **FAST) as reg:
        assert await reg.documents(CHILD) == [HealthDocument("FORM_026", "H-42", dt.date(2026, 2, 1))]
        assert await reg.documents(MOTHER) == []


async def test_esignature_verify(server: Server) -> None:
    async with HttpESignature(server.url, retries=0, **FAST) as esign:
        assert await esign.verify(MOTHER, "ab" * 32, "good") is True
        assert await esign.verify(MOTHER, "ab" * 32, "forged") is False
    assert server.stub.calls[0] == (
        "POST",
        "/verify",
        {"iin": MOTHER, "documentHash": "ab" * 32, "signature": "good"},
    )


async def test_sms_send(server: Server) -> None:
    async with HttpSmsGateway(server.url + "/sms", retries=0, **FAST) as sms:
        await sms.send("m-1", "+77011234567", "Өтініш KZ-1: орын берілді", Language.KK)
    assert server.stub.calls == [
        (
            "POST",
            "/sms",
            {"id": "m-1", "to": "+77011234567", "text": "Өтініш KZ-1: орын берілді", "language": "KK"},
        )
    ]


async def test_logs_never_carry_a_whole_iin(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    server.stub.script[:] = [500]
    with caplog.at_level(logging.DEBUG):
        async with HttpPopulationRegistry(server.url, retries=1, **FAST) as reg:
            assert await reg.person(CHILD) is not None
    assert "HTTP Request" in caplog.text  # httpx's own request log went through the filter
    assert iins.mask(CHILD) in caplog.text
    assert CHILD not in caplog.text


# --- retries -------------------------------------------------------------------------------------


async def test_two_5xx_then_success_with_retries(server: Server) -> None:
    server.stub.script[:] = [500, 503]
    async with HttpPopulationRegistry(server.url, retries=3, **FAST) as reg:
        person = await reg.person(MOTHER)
    assert person is not None and person.iin == MOTHER
    assert len(server.stub.calls) == 3


async def test_timeout_is_retried(server: Server) -> None:
    server.stub.script[:] = ["hang"]
    async with HttpHealthRegistry(server.url, retries=1, timeout=0.2, backoff=0.01) as reg:
        assert await reg.documents(CHILD) == [HealthDocument("FORM_026", "H-42", dt.date(2026, 2, 1))]
    assert [c[1] for c in server.stub.calls] == [f"/health/{CHILD}/documents"] * 2


async def test_permanent_5xx_raises_registry_unavailable(server: Server) -> None:
    server.stub.always = 500
    async with HttpBenefitsRegistry(server.url, retries=2, **FAST) as reg:
        with pytest.raises(RegistryUnavailable) as err:
            await reg.findings([CHILD])
    assert err.value.service == "benefits-registry"
    assert "HTTP 500" in str(err.value)
    assert len(server.stub.calls) == 3  # the first attempt and two retries, then it gives up


async def test_4xx_is_not_retried(server: Server) -> None:
    server.stub.always = 400
    async with HttpESignature(server.url, retries=3, **FAST) as esign:
        with pytest.raises(RegistryUnavailable):
            await esign.verify(MOTHER, "00", "good")
    assert len(server.stub.calls) == 1


def counting_client(attempts: list[str]) -> httpx.AsyncClient:
    """An httpx client that records every request it starts, answered or not."""

    async def record(request: httpx.Request) -> None:
        attempts.append(request.url.path)

    return httpx.AsyncClient(event_hooks={"request": [record]})


async def test_unreachable_registry_is_tried_once_per_attempt_then_given_up(dead_url: str) -> None:
    attempts: list[str] = []
    async with counting_client(attempts) as client:
        reg = HttpPopulationRegistry(dead_url, retries=2, timeout=0.5, backoff=0.01, client=client)
        with pytest.raises(RegistryUnavailable) as err:
            await reg.person(CHILD)
        await reg.aclose()
        assert not client.is_closed  # a client handed in stays the caller's
    assert err.value.service == "population-registry"
    assert "ConnectError" in str(err.value)
    assert CHILD not in str(err.value)
    assert attempts == [f"/persons/{CHILD}"] * 3  # refused connections are retried like 5xx, no more


async def test_hanging_registry_raises_after_timeouts(server: Server) -> None:
    server.stub.script[:] = ["hang", "hang"]
    async with HttpPopulationRegistry(server.url, retries=1, timeout=0.2, backoff=0.01) as reg:
        with pytest.raises(RegistryUnavailable) as err:
            await reg.children(MOTHER)
    # Each attempt ended by the client's timeout (the server never answered), two attempts in all.
    assert "Timeout" in str(err.value) and "504" not in str(err.value), err.value
    assert [c[1] for c in server.stub.calls] == [f"/persons/{MOTHER}/children"] * 2


@pytest.mark.parametrize("action", ["not-json", "wrong-shape"])
async def test_malformed_body_is_registry_unavailable(server: Server, action: str) -> None:
    server.stub.script[:] = [action, action]
    async with HttpPopulationRegistry(server.url, retries=0, **FAST) as reg:
        with pytest.raises(RegistryUnavailable, match=r"malformed|not JSON"):
            await reg.person(CHILD)
        with pytest.raises(RegistryUnavailable):
            await reg.representatives(CHILD)


async def test_sms_retries_with_the_same_id(server: Server) -> None:
    server.stub.script[:] = [500, 429]
    async with HttpSmsGateway(server.url + "/sms", retries=3, **FAST) as sms:
        await sms.send("msg-77", "+77011234567", "KZ-1", Language.RU)
    bodies = [c[2] for c in server.stub.calls]
    assert len(bodies) == 3
    assert {b["id"] for b in bodies} == {"msg-77"}
    assert all(b == bodies[0] for b in bodies)


async def test_sms_non_2xx_fails_after_retries(server: Server) -> None:
    server.stub.sms_status = 400
    async with HttpSmsGateway(server.url + "/sms", retries=2, **FAST) as sms:
        with pytest.raises(SmsSendFailed) as err:
            await sms.send("msg-9", "+77011234567", "KZ-1", Language.EN)
    assert err.value.message_id == "msg-9"
    assert [c[2]["id"] for c in server.stub.calls] == ["msg-9"] * 3


async def test_sms_unreachable_gateway(dead_url: str) -> None:
    attempts: list[str] = []
    async with counting_client(attempts) as client:
        sms = HttpSmsGateway(dead_url + "/sms", retries=1, timeout=0.5, backoff=0.01, client=client)
        with pytest.raises(SmsSendFailed) as err:
            await sms.send("msg-1", "+77011234567", "KZ-1", Language.KK)
    assert err.value.message_id == "msg-1" and "ConnectError" in str(err.value)
    assert attempts == ["/sms"] * 2
