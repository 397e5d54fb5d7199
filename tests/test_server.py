"""`kezek serve` as operators run it: a real uvicorn process on 127.0.0.1, stopped by the test."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from persistence.db import drop_database, ensure_database, with_database
from tests import data
from tests.conftest import Kezek

ROOT = Path(__file__).parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEZEK_")}
    env.update(extra)
    return env


def _kezek(*args: str) -> list[str]:
    return [sys.executable, "-m", "api.cli", *args]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a service manager stops a server; SIGKILL if it has not stopped after a bounded wait.
    (Not SIGINT: a process started from a shell that ignores SIGINT inherits that.)"""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def server(db_url: str) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        _kezek("serve", "--port", str(port), "--no-worker"),
        env=_env(KEZEK_PROFILE="development", KEZEK_DATABASE_URL=db_url),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("server did not start")
        yield base
    finally:
        _stop(proc)


async def test_served_over_real_http(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ok"
        token = Kezek.citizen(data.PLAIN.parents[0])
        body = (
            await client.post(
                "/graphql",
                json={"query": "{ viewer { role channel } myChildren { iin } }"},
                headers={"Authorization": f"Bearer {token}"},
            )
        ).json()
        assert body["data"]["viewer"] == {"role": "CITIZEN", "channel": "egov"}
        assert sorted(c["iin"] for c in body["data"]["myChildren"]) == sorted(data.PLAIN.children)
        # Queries also work over GET; GraphiQL is served in development.
        got = await client.get("/graphql", params={"query": "{ regions { code } }"})
        assert {r["code"] for r in got.json()["data"]["regions"]} == {data.KARAGANDA_REGION, data.SKO_REGION}
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert "graphiql" in page.text.lower()


def test_readyz_reports_an_unmigrated_database(tmp_path: Path, pg_url: str) -> None:
    name = f"empty_{uuid.uuid4().hex[:12]}"
    asyncio.run(ensure_database(pg_url, name))
    try:
        _readyz_on_an_unmigrated_database(with_database(pg_url, name))
    finally:
        # The server is stopped by then; FORCE ends any connection it left behind.
        asyncio.run(drop_database(pg_url, name))


def _readyz_on_an_unmigrated_database(url: str) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        _kezek("serve", "--port", str(port), "--no-worker"),
        env=_env(KEZEK_DATABASE_URL=url),  # production profile: no migration
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert response is not None and response.status_code == 503
        assert response.json()["status"] == "unavailable"
    finally:
        _stop(proc)


def test_production_without_database_url_fails() -> None:
    result = subprocess.run(_kezek("serve"), env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "KEZEK_DATABASE_URL" in result.stderr


@pytest.mark.parametrize(
    ("variable", "content", "field"),
    [
        ("KEZEK_CHANNELS_FILE", '[{"id": "x", "kind": "BANK", "roles": ["citizen"], "keys": []}]', "channels.0.keys"),
        ("KEZEK_CHANNELS_FILE", '[{"id": "x", "kind": "SHOP", "roles": ["citizen"], "keys": []}]', "channels.0.kind"),
        ("KEZEK_POLICY_FILE", '{"default": {"responseWindow": "two days"}}', "default.responseWindow"),
        ("KEZEK_POLICY_FILE", '{"default": {"declineEffect": "IGNORE"}}', "default.declineEffect"),
        ("KEZEK_PLACES_FILE", '{"kindergartens": [{"externalId": "A"}]}', "kindergartens.0.districtCode"),
        ("KEZEK_SANDBOX_FILE", '{"persons": [{"iin": "123"}]}', "persons.0.iin"),
        ("KEZEK_POLICY_FILE", "{not json", "(line 1)"),
    ],
)
def test_malformed_file_stops_start_up_naming_file_and_field(
    tmp_path: Path, variable: str, content: str, field: str
) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    result = subprocess.run(
        _kezek("serve"),
        env=_env(**{variable: str(path), "KEZEK_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert str(path) in result.stderr and field in result.stderr, result.stderr


def test_dev_token_is_accepted_by_the_app() -> None:
    out = subprocess.run(
        _kezek(
            "dev-token",
            "--channel",
            "akimat-karaganda",
            "--role",
            "akimat_operator",
            "--sub",
            "op-7",
            "--region",
            data.KARAGANDA_REGION,
            "--district",
            data.SHAKHTINSK,
        ),
        env=_env(KEZEK_PROFILE="development"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    _, payload, _ = out.split(".")
    import base64

    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == "akimat-karaganda" and claims["aud"] == "kezek" and claims["role"] == "akimat_operator"
    assert claims["region"] == data.KARAGANDA_REGION and claims["district"] == data.SHAKHTINSK
    bad = subprocess.run(
        _kezek("dev-token", "--channel", "nope", "--role", "citizen", "--sub", "x"),
        env=_env(KEZEK_PROFILE="development"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode != 0 and "nope" in bad.stderr
