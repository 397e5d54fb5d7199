"""Automatic persisted queries, Apollo's APQ protocol (docs/api.md §1), for channels that are not
trusted-documents-only (those run registered documents only, persistence/documents.py).

A request with `extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}`:
- and no `query`: runs the document stored under that hash; when none is, it is answered with the error
  Apollo's clients look for (message `PersistedQueryNotFound`, code PERSISTED_QUERY_NOT_FOUND), and the
  client sends the hash again with the query;
- and a `query`: the hash must be the SHA-256 of the query's UTF-8 text (else PERSISTED_QUERY_HASH_MISMATCH,
  message `provided sha does not match query`, as Apollo Server says it); the document runs, and once it has
  parsed and validated it is stored under the hash.

Documents are kept in this process's memory, least recently used first out, at most MAX_DOCUMENTS of them
and MAX_CHARACTERS of text in all (docs/decisions.md). A process that does not know a hash answers
PERSISTED_QUERY_NOT_FOUND, and the client's retry with the text teaches it.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from persistence.documents import document_sha256

MAX_DOCUMENTS = 1000
MAX_CHARACTERS = 4 * 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class PersistedQueryError(Exception):
    """A refusal of the APQ protocol: its code, message and HTTP status as application/json."""

    code: str
    message: str
    status: int


NOT_FOUND = PersistedQueryError("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound", 200)
MISMATCH = PersistedQueryError("PERSISTED_QUERY_HASH_MISMATCH", "provided sha does not match query", 400)


@dataclass(frozen=True)
class Registration:
    """A document to store under its hash once it has been found to be a valid request."""

    sha256: str
    query: str


class PersistedQueries:
    def __init__(self, max_documents: int = MAX_DOCUMENTS, max_characters: int = MAX_CHARACTERS) -> None:
        self._documents: OrderedDict[str, str] = OrderedDict()
        self._characters = 0
        self.max_documents = max_documents
        self.max_characters = max_characters

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, sha256: str) -> str | None:
        query = self._documents.get(sha256)
        if query is not None:
            self._documents.move_to_end(sha256)
        return query

    def put(self, registration: Registration) -> None:
        if len(registration.query) > self.max_characters or registration.sha256 in self._documents:
            return
        self._documents[registration.sha256] = registration.query
        self._characters += len(registration.query)
        while len(self._documents) > self.max_documents or self._characters > self.max_characters:
            _, dropped = self._documents.popitem(last=False)
            self._characters -= len(dropped)

    def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> tuple[str | None, Registration | None]:
        """The query to run, and what to store once it has run; PersistedQueryError for a refusal. A request
        without `persistedQuery` is passed on as it is."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            return query, None
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise PersistedQueryError("BAD_REQUEST", "Unsupported persisted query version", 400)
        sha256 = persisted.get("sha256Hash")
        if not isinstance(sha256, str) or not _SHA256.match(sha256):
            message = "persistedQuery.sha256Hash must be the SHA-256 of the query, in lower-case hex"
            raise PersistedQueryError("BAD_REQUEST", message, 400)
        if query is None:
            stored = self.get(sha256)
            if stored is None:
                raise NOT_FOUND
            return stored, None
        if document_sha256(query) != sha256:
            raise MISMATCH
        return query, Registration(sha256, query)
