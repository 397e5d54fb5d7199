"""Expected failures: each carries a stable API error code (docs/api.md §3).

Raising one: `raise DomainError(ErrorCode.X, "an English detail for the logs", "inputField", name=value)`.
- `code` decides what the caller reads: `message` is the text of domain/error_messages.py for that code, in the
  caller's language (Accept-Language: kk, ru, en; ru when absent or unknown). A new ErrorCode needs its texts
  there (tests/test_error_messages.py fails until it has them in all three languages).
- `message` is the detail: written to the log with the refusal (at INFO), never shown to the caller.
- `field` (optional) is the input field at fault, by its API name (`childIin`): the payload error's `field`,
  and a parameter of the texts (translated by error_messages.FIELDS).
- keyword parameters (optional) fill the texts: `number=` for DUPLICATE_APPLICATION, `occupied=` for
  CAPACITY_BELOW_OCCUPIED, `limit=` for TOO_MANY_CHOICES, `what=` for NOT_FOUND (a kind of object that
  error_messages.OBJECTS translates). A parameter no text uses is ignored; a text whose parameter is missing
  gives way to the code's plainer variant, so a parameter is never required. Values must hold no personal
  data beyond what the caller sent or may see (an application number, a count).
"""

from __future__ import annotations

from domain.model import ErrorCode


class DomainError(Exception):
    def __init__(self, code: ErrorCode, message: str, field: str | None = None, **params: str | int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.params = params


class RegistryUnavailable(Exception):
    """A state registry or signature service did not answer; the caller writes nothing."""

    def __init__(self, service: str, detail: str = "") -> None:
        super().__init__(f"{service} unavailable{': ' + detail if detail else ''}")
        self.service = service


class Contention(Exception):
    """Another transaction held what this one needed (a deadlock, a lock not to be waited for, a
    serialization failure): nothing was written, and the use case runs again."""
