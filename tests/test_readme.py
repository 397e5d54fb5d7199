"""README.md's walkthrough, run as written (docs/quality.md §1): its `# walkthrough` shell blocks, in order, in one
bash, against a real `kezek serve --demo` (with its worker, as `make run`) on a free port and a fresh data
directory; then again after a restart, which must keep every change the first run made.

Every `curl` of the blocks is recorded (a shell function around the real one, failing on HTTP errors); every
answer must be free of errors, top level and payload alike."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from api import demo
from api.embedded import SYSTEM_USER, EmbeddedServer
from tests.served import clean_env, kezek_serve

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
MARK = "# walkthrough"
URL = "http://127.0.0.1:8000"  # where the README's reader runs `make run`; the test's server is elsewhere
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
# Runs before the blocks: stop at the first failure; record each curl's answer, one per line.
PREAMBLE = """set -euo pipefail
curl() { command curl --fail-with-body "$@" | tee -a "$ANSWERS"; echo >> "$ANSWERS"; }
"""


def walkthrough(text: str) -> list[str]:
    return [block for block in BLOCK.findall(text) if block.startswith(MARK)]


def run_walkthrough(base: str, answers: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    """`env`: the server's, as the README's reader has it (`kezek dev-token` reads the same database)."""
    script = PREAMBLE + "\n".join(walkthrough(README.read_text(encoding="utf-8"))).replace(URL, base)
    answers.write_text("")
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env={**os.environ, **env, "ANSWERS": str(answers)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"the walkthrough failed:\n{done.stderr[-3000:]}\n{done.stdout[-2000:]}"
    return [json.loads(line) for line in answers.read_text().splitlines() if line.strip()]


def errors_of(answer: dict[str, Any]) -> list[Any]:
    """Top-level errors, and the errors of every mutation payload."""
    found = list(answer.get("errors", []))
    for value in (answer.get("data") or {}).values():
        if isinstance(value, dict):
            found += value.get("errors", [])
    return found


def answers_to(field: str, answers: list[dict[str, Any]]) -> list[Any]:
    return [a["data"][field] for a in answers if field in (a.get("data") or {})]


def check(answers: list[dict[str, Any]]) -> list[int]:
    """What the walkthrough shows, run after run; the capacities it set."""
    assert len(answers) >= 20, answers
    assert [a for a in answers if errors_of(a)] == []
    submitted = [s["application"] for s in answers_to("submitApplication", answers)]
    assert len(submitted) == 3, submitted
    family = [p["position"] for s in submitted[:2] for p in s["choices"]]
    assert len(family) == 8 and all(10 <= p <= 99 for p in family), family  # the demo parent's children: tens
    raised = [r["group"] for r in answers_to("setGroupCapacity", answers)]
    assert len(raised) == 2 and all(g["freeSeats"] == 0 and g["held"] >= 1 for g in raised), raised  # offers made
    verified = answers_to("verifyPriorityClaim", answers)[0]["claim"]
    assert verified["tier"] == "EXTRAORDINARY", verified
    assert [c["position"] for c in verified["application"]["choices"]] == [1, 1], verified
    signed = answers_to("signContract", answers)[0]
    assert signed["offer"]["status"] == "ENROLLED" and signed["enrollment"] is not None, signed
    left = answers_to("leaveKindergarten", answers)[0]["child"]
    assert left["enrollment"] is None, left
    return [g["capacity"] for g in raised]


def test_the_walkthrough_is_marked() -> None:
    text = README.read_text(encoding="utf-8")
    blocks = walkthrough(text)
    assert len(blocks) >= 10 and f"KEZEK={URL}/graphql" in blocks[0], blocks[:1]
    assert demo.DEMO_PARENT_IIN in blocks[0] and demo.DEMO_MILITARY_CHILD_IIN in "".join(blocks)
    # Every API call the README shows is in the walkthrough, so the test runs them all.
    assert [b for b in BLOCK.findall(text) if not b.startswith(MARK) and "curl" in b] == []


def test_the_readme_walkthrough_runs_twice_with_a_restart_between(tmp_path: Path) -> None:
    data_dir = tmp_path / "kezek"
    env = clean_env(KEZEK_PROFILE="development", KEZEK_DATA_DIR=str(data_dir), KEZEK_LOG_LEVEL="WARNING")
    kezek = [sys.executable, "-m", "api.cli"]
    capacities = []
    for run in (1, 2):
        try:
            with kezek_serve(kezek, env, ROOT, args=["--demo"], worker=True, timeout=300) as base:
                capacities.append(check(run_walkthrough(base, tmp_path / f"answers-{run}.jsonl", env)))
            assert not (data_dir / "pg" / "postmaster.pid").exists(), "kezek serve left its PostgreSQL running"
        finally:  # whatever failed, the embedded PostgreSQL the server started is stopped
            EmbeddedServer((data_dir / "pg").resolve(), True, SYSTEM_USER if os.geteuid() == 0 else None).cleanup()
    # The restart kept the seats the first run added: the second run added one more to each group.
    assert capacities[1] == [c + 1 for c in capacities[0]], capacities
