"""Rules of the codebase itself: the checked-in SDL matches the code, the domain imports no framework."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from graph.schema import build_schema

ROOT = Path(__file__).parent.parent
# The domain may use the standard library and itself only (docs/quality.md §1, §5).
DOMAIN_ALLOWED = {
    "__future__",
    "abc",
    "asyncio",
    "random",
    "base64",
    "bisect",
    "collections",
    "contextlib",
    "dataclasses",
    "datetime",
    "enum",
    "hashlib",
    "hmac",
    "itertools",
    "json",
    "logging",
    "math",
    "re",
    "types",
    "typing",
    "uuid",
    "zoneinfo",
    "domain",
    "functools",
    "unicodedata",
    "string",
}


def test_schema_graphql_matches_the_code() -> None:
    exported = build_schema(production=False).as_str() + "\n"
    assert (ROOT / "schema.graphql").read_text() == exported, "run `make schema` and commit schema.graphql"


def test_schema_is_the_same_in_every_profile() -> None:
    assert build_schema(production=True).as_str() == build_schema(production=False).as_str()


def test_export_schema_command_prints_the_sdl() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "api.cli", "export-schema"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out == (ROOT / "schema.graphql").read_text()


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_domain_imports_no_framework() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) - DOMAIN_ALLOWED)
        for path in (ROOT / "domain").rglob("*.py")
        if _imports(path) - DOMAIN_ALLOWED
    }
    assert offenders == {}


def test_the_purity_rule_catches_a_framework_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import sqlalchemy\nfrom strawberry import type as t\n")
    assert _imports(bad) - DOMAIN_ALLOWED == {"sqlalchemy", "strawberry"}


SQL_NAMES = {"text", "select", "insert", "update", "delete"}


def _sql_users(path: Path) -> bool:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "asyncpg" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            if root == "asyncpg" or (root == "sqlalchemy" and SQL_NAMES & {a.name for a in node.names}):
                return True
    return False


def test_sql_lives_in_persistence() -> None:
    """Only persistence/ builds statements; domain/, graph/, api/ and integrations/ call it."""
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("domain", "graph", "api", "integrations")
        for path in (ROOT / folder).rglob("*.py")
        if _sql_users(path)
    ]
    assert offenders == []
