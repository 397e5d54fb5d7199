"""`kezek dev-token` prints only tokens the server accepts; otherwise it names the reason on stderr and exits 2
(docs/api.md §4). The command runs as a developer types it: a process with no KEZEK_* setting but those given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import data
from tests.conftest import Kezek

ROOT = Path(__file__).parent.parent


def dev_token(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEZEK_")}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "dev-token", *args],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (
            ["--channel", "egov", "--role", "akimat_operator", "--sub", "op-1", "--region", "350000000"],
            "role_not_allowed",
        ),
        (
            ["--channel", "akimat-sko", "--role", "akimat_operator", "--sub", "op-1", "--region", "350000000"],
            "outside_channel_limits",
        ),
        (["--channel", "akimat-karaganda", "--role", "akimat_operator", "--sub", "op-1"], "malformed"),
    ],
)
def test_refuses_what_the_server_would_refuse(args: list[str], reason: str) -> None:
    done = dev_token(*args)
    assert done.returncode == 2, done
    assert done.stdout == ""
    assert f"the server would refuse this token: {reason}" in done.stderr, done.stderr


def test_the_production_profile_refuses_development_channels() -> None:
    channels = str(ROOT / "api" / "dev" / "channels.json")
    args = ["--channel", "egov", "--role", "citizen", "--sub", data.PLAIN.parents[0]]
    refused = dev_token(*args, KEZEK_PROFILE="production", KEZEK_CHANNELS_FILE=channels)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "the server would refuse this token: unknown_key (unknown issuer)" in refused.stderr, refused.stderr
    served = dev_token(*args, KEZEK_PROFILE="development", KEZEK_CHANNELS_FILE=channels)
    assert served.returncode == 0, served.stderr


async def test_staff_tokens_are_checked_against_the_kindergartens_region(kezek: Kezek) -> None:
    outside = dev_token(
        *("--channel", "akimat-sko", "--role", "kindergarten_staff", "--sub", "s-1", "--kindergarten", "SHA-1"),
        KEZEK_DATABASE_URL=kezek.db_url,
    )
    assert outside.returncode == 2 and outside.stdout == ""
    assert "the server would refuse this token: outside_channel_limits" in outside.stderr, outside.stderr
    inside = dev_token(
        *("--channel", "akimat-karaganda", "--role", "kindergarten_staff", "--sub", "s-1", "--kindergarten", "SHA-1"),
        KEZEK_DATABASE_URL=kezek.db_url,
    )
    assert inside.returncode == 0, inside.stderr
    viewer = (await kezek.gql("{ viewer { role kindergarten { externalId } } }", token=inside.stdout.strip()))["viewer"]
    assert viewer == {"role": "KINDERGARTEN_STAFF", "kindergarten": {"externalId": "SHA-1"}}


async def test_prints_a_token_the_server_accepts(kezek: Kezek) -> None:
    parent = data.PLAIN.parents[0]
    done = dev_token("--channel", "kaspi", "--role", "citizen", "--sub", parent)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n" and done.stderr == ""
    assert (await kezek.gql("{ viewer { role channel subject } }", token=token))["viewer"] == {
        "role": "CITIZEN",
        "channel": "kaspi",
        "subject": parent,
    }
