"""Expected failures: each carries a stable API error code (docs/api.md §3)."""

from __future__ import annotations

from domain.model import ErrorCode


class DomainError(Exception):
    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class RegistryUnavailable(Exception):
    """A state registry or signature service did not answer; the caller writes nothing."""

    def __init__(self, service: str, detail: str = "") -> None:
        super().__init__(f"{service} unavailable{': ' + detail if detail else ''}")
        self.service = service


class Contention(Exception):
    """Another transaction held what this one needed (a deadlock, a lock not to be waited for, a
    serialization failure): nothing was written, and the use case runs again."""
