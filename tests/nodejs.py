"""JavaScript clients for the protocol tests (tests/test_conformance.py): the npm packages pinned by
tests/node/package-lock.json, installed with `npm ci` into .kezek/node/ (ignored by git) the first time and
again whenever the lock changes. `python -m tests.nodejs` installs them ahead of a run (.ci/run does)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).parent.parent
SOURCE = Path(__file__).parent / "node"
TARGET = ROOT / ".kezek" / "node"
FILES = ("package.json", "package-lock.json")


def node_modules() -> Path:
    """The installed packages' folder (scripts find them through KEZEK_NODE_MODULES)."""
    digest = hashlib.sha256(b"".join((SOURCE / f).read_bytes() for f in FILES)).hexdigest()
    stamp = TARGET / ".installed"
    if stamp.is_file() and stamp.read_text() == digest and (TARGET / "node_modules").is_dir():
        return TARGET / "node_modules"
    shutil.rmtree(TARGET, ignore_errors=True)
    TARGET.mkdir(parents=True)
    for name in FILES:
        shutil.copyfile(SOURCE / name, TARGET / name)
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
        cwd=TARGET,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm ci failed in {TARGET}:\n{done.stdout}\n{done.stderr}")
    stamp.write_text(digest)
    return TARGET / "node_modules"


def script(name: str) -> Path:
    return SOURCE / name


if __name__ == "__main__":
    print(node_modules())
