"""The one runner of every mutation (docs/api.md §3): role gate, idempotency, expected failures as payload errors.

A mutation gives the runner two functions: `run`, which calls the use case and returns the id of what it
changed (an application id, a group id, a child's IIN…), and `payload`, which builds the payload from the
request's info, that id (None when it failed) and the errors. With an idempotencyKey the id and the errors
are remembered, and a retry gets the payload built from them again without running the use case twice.

A payload error's `message` is its code's text in the caller's language (domain/error_messages.py); the
English detail it was raised with is logged, at INFO, with the mutation's name, and each is counted by code.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from domain.error_messages import render
from domain.errors import DomainError, RegistryUnavailable
from domain.model import Actor, ErrorCode, Role
from graph.access import require_role
from graph.admission import Admission
from graph.common import I, UserError
from graph.errors import forbidden

K = TypeVar("K")  # the id of what the mutation changed: JSON, as it is remembered with the idempotency key
P = TypeVar("P")

log = logging.getLogger("kezek.graphql")

WAIT_TRIES = 50  # a retry waits for the first call's payload up to 5 s
WAIT_STEP = 0.1


async def run_mutation(
    info: I,
    input: Any,
    roles: tuple[Role, ...],
    run: Callable[[Actor], Awaitable[K]],
    payload: Callable[[I, K | None, list[UserError]], Awaitable[P]],
) -> P:
    actor = require_role(info, *roles)
    object_id, errors = await _run_once(info, input, actor, run)
    for error in errors:
        log.info(
            "refused %s: %s%s %s",
            info.field_name,
            error.code.value,
            f" ({error.field})" if error.field else "",
            error.message,
        )
        info.context.services.observer.error(error.code.value, "payload")
    return await payload(info, object_id, [_user_error(e, info) for e in errors])


def _user_error(error: DomainError, info: I) -> UserError:
    params = {"field": error.field, **error.params}
    message = render(error.code, info.context.language, params) or error.message
    return UserError(code=error.code, message=message, field=error.field)


async def _run_once(
    info: I, input: Any, actor: Actor, run: Callable[[Actor], Awaitable[K]]
) -> tuple[K | None, list[DomainError]]:
    """The use case's result, or the first call's with the same idempotency key."""
    key = getattr(input, "idempotency_key", None)
    admission = info.context.services.admission
    if key is None:
        return await _attempt(actor, run, admission)
    if not key.strip() or len(key) > 200:
        return None, [_key_error(ErrorCode.INVALID_INPUT, "bad idempotencyKey")]
    assert actor.channel is not None and actor.subject is not None
    store = info.context.services.idempotency
    scope = (actor.channel, actor.subject, info.field_name, key)
    digest = _input_hash(input)
    if not await store.claim(*scope, digest):
        remembered = await store.find(*scope)
        for _ in range(WAIT_TRIES):  # the first call may still be running: wait for its payload
            if remembered is None or remembered[1] is not None:
                break
            await asyncio.sleep(WAIT_STEP)
            remembered = await store.find(*scope)
        if remembered is not None and remembered[0] != digest:
            return None, [
                _key_error(ErrorCode.IDEMPOTENCY_KEY_REUSED, "this idempotencyKey was used with another input")
            ]
        if remembered is None or remembered[1] is None:
            return None, [_key_error(ErrorCode.INVALID_STATE, "a call with this idempotencyKey is still running")]
        first = remembered[1]
        remembered_errors = [
            DomainError(ErrorCode(e["code"]), e["message"], e["field"], **e.get("params", {})) for e in first["errors"]
        ]
        return first["id"], remembered_errors
    try:
        object_id, errors = await _attempt(actor, run, admission)
    except BaseException:
        await store.release(*scope)
        raise
    if errors and errors[0].code == ErrorCode.REGISTRY_UNAVAILABLE:
        await store.release(*scope)  # not remembered: a retry should try the registry again
    else:
        await store.complete(
            *scope,
            {
                "id": object_id,
                "errors": [
                    {"code": e.code.value, "message": e.message, "field": e.field, "params": e.params} for e in errors
                ],
            },
        )
    return object_id, errors


def _input_hash(data: Any) -> str:
    fields = {k: v for k, v in dataclasses.asdict(data).items() if k != "idempotency_key"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _key_error(code: ErrorCode, message: str) -> DomainError:
    return DomainError(code, message, "idempotencyKey")


async def _attempt(
    actor: Actor, run: Callable[[Actor], Awaitable[K]], admission: Admission
) -> tuple[K | None, list[DomainError]]:
    try:
        async with admission.turn():  # a retry that waits for the first call's payload (above) holds no turn
            return await run(actor), []
    except DomainError as exc:
        if exc.code == ErrorCode.FORBIDDEN:
            raise forbidden() from None
        return None, [exc]
    except RegistryUnavailable as exc:
        return None, [DomainError(ErrorCode.REGISTRY_UNAVAILABLE, f"{exc.service} is unavailable, try again later")]
