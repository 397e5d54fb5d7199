"""Shared execution of subscriptions (docs/quality.md §3: one vacancy event to 5,000 subscriptions within 1 s).

A subscription over a WebSocket starts as an execution of its own, in a task of the hub, with a context that
has the caller's actor and services but not the socket. Everything up to the point where its resolver waits
for live events (role and access checks, cursor checks, the replay after a cursor) is its own, so errors and
replays are exactly those of an unshared subscription.

Before waiting for its next live event, the resolver offers the execution to the hub (`hand_over`) with its
position in the feed (the last event id it has taken, or the broker's last id when it registered) and its
shape (the filter it chose when it started). The key is (document, operation name, variables, access scope,
language of error messages, shape):
- no shared execution has the key: this one becomes it;
- the shared one has taken no event beyond this one's position: this one's subscribers move to it, and from
  then on get its results for the events after that position, which is exactly what this execution would
  have sent next; this execution ends;
- the shared one is ahead (this one is still catching up, e.g. after a replay): it tries again before its
  next event.
So a subscriber that joins a running execution hears of every event committed after it registered with the
broker, and of nothing earlier.

Each result of a shared execution is computed once and appended to every member's bounded queue; each member's
own operation sends it with its own id. A member whose queue is full is dropped with SLOW_SUBSCRIBER (as the
broker drops an unshared subscription) without slowing the others. The execution's task ends, and its stream is
closed, when its last member leaves (complete, socket closed, token expired) or is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Iterable
from typing import Any

import strawberry
from graphql import GraphQLError, get_operation_ast, parse
from graphql import OperationType as AstOperationType
from strawberry.schema.schema import StreamResult
from strawberry.types import ExecutionContext, Info
from strawberry.types.execution import ExecutionResult
from strawberry.types.graphql import OperationType

from domain.model import Actor, Role
from graph.context import Context
from graph.errors import api_error, report_errors

log = logging.getLogger("kezek.subscriptions")

QUEUE_SIZE = 256  # results a member may have unsent, as many as the broker queues for a subscription
# Documents over these are refused by MaxTokensLimiter anyway: they run unshared, never parsed (or cached) here.
_PARSE_TOKENS = 5000
_PARSE_CHARS = 100_000
_BY_SCOPE = frozenset({Role.MINISTRY, Role.AKIMAT_OPERATOR, Role.KINDERGARTEN_STAFF})

Key = tuple[Hashable, ...]
Upstream = Callable[[Context], Awaitable[StreamResult]]


def scope_of(actor: Actor) -> Key:
    """What a result may depend on besides the document and variables. Ministry callers, and operators and
    staff of one area or kindergarten, see the same; any other caller (a citizen) is only ever alike itself."""
    subject = None if actor.role in _BY_SCOPE else actor.subject
    return (actor.role, actor.channel, subject, actor.region_code, actor.district_code, actor.kindergarten)


@functools.lru_cache(maxsize=256)
def _is_subscription(query: str, operation_name: str | None) -> bool:
    try:
        document = parse(query, no_location=True, max_tokens=_PARSE_TOKENS)
    except GraphQLError:
        return False  # the unshared path answers with the same error as ever
    operation = get_operation_ast(document, operation_name)
    return operation is not None and operation.operation == AstOperationType.SUBSCRIPTION


def _slow() -> ExecutionResult:
    # What graph/subscriptions.py's _live raises when the broker dropped an unshared subscription.
    return ExecutionResult(
        data=None, errors=[api_error("SLOW_SUBSCRIBER", "events arrived faster than they were read; resubscribe")]
    )


class _Member:
    """One subscriber (one operation id on one socket): results waiting to be sent, and how it ends."""

    __slots__ = ("after", "ended", "error", "execution", "pending", "slow", "wake")

    def __init__(self) -> None:
        self.pending: deque[Any] = deque()
        self.wake = asyncio.Event()
        self.after = -1  # results of events up to this id are not for this member
        self.execution: Execution | None = None
        self.ended = False
        self.slow = False
        self.error: Exception | None = None

    def offer(self, result: Any) -> bool:
        if len(self.pending) >= QUEUE_SIZE:
            self.slow = True
            self.wake.set()
            return False
        self.pending.append(result)
        self.wake.set()
        return True

    def end(self, error: Exception | None) -> None:
        self.execution = None
        self.ended = True
        self.error = error
        self.wake.set()

    def leave(self) -> None:
        if self.execution is not None:
            self.execution.remove(self)


class Execution:
    """One run of the schema's own `stream` for a subscription, fanned out to its members."""

    def __init__(self, hub: Hub, key: Key, context: Context, upstream: Upstream) -> None:
        self.hub = hub
        self.key = key
        self.context = context
        self._upstream = upstream
        self.members: dict[_Member, None] = {}  # insertion-ordered: members hear of an event in joining order
        self.shared_key: Key | None = None  # set while this is the shared execution of its key
        self.position = -1
        self.tag: int | None = None  # the event the result being computed is for
        self.task: asyncio.Task[None] | None = None
        context.shared = self

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="kezek-subscription")
        self.hub.executions.add(self)
        self.task.add_done_callback(lambda _: self.hub.executions.discard(self))

    def add(self, member: _Member, after: int) -> None:
        member.execution = self
        member.after = after
        self.members[member] = None

    def remove(self, member: _Member) -> None:
        self.members.pop(member, None)
        member.execution = None
        if not self.members:
            self._unregister()
            if self.task is not None and self.task is not asyncio.current_task():
                self.task.cancel()

    def _unregister(self) -> None:
        if self.shared_key is not None and self.hub.shared.get(self.shared_key) is self:
            del self.hub.shared[self.shared_key]
        self.shared_key = None

    def hand_over(self, position: int, shape: Hashable, complete: bool) -> bool:
        """See the module's docstring; True when this execution's members moved to the shared one."""
        self.tag = None
        self.position = position
        if not complete:  # the broker dropped this execution's events: nobody joins it, it joins nobody
            self._unregister()
            return False
        if self.shared_key is not None or not self.members:  # shared already, or ending: its members left
            return False
        key = (*self.key, shape)
        shared = self.hub.shared.get(key)
        if shared is None:
            self.hub.shared[key] = self
            self.shared_key = key
            return False
        if shared.position > position:
            return False
        for member in list(self.members):
            shared.add(member, position)
        self.members.clear()
        return True

    def take(self, event_id: int) -> None:
        """The resolver took this event: the next result is for it (members who joined later skip it)."""
        self.position = event_id
        self.tag = event_id

    async def _run(self) -> None:
        error: Exception | None = None
        try:
            source = await self._upstream(self.context)
            async with contextlib.aclosing(source):
                async for result in source:
                    tag, self.tag = self.tag, None
                    for member in list(self.members):
                        if tag is not None and tag <= member.after:
                            continue
                        if not member.offer(result):
                            log.warning("a subscriber was dropped: it read more slowly than events arrived")
                            self.members.pop(member, None)
                            member.execution = None
                    if not self.members:
                        return
        except Exception as exc:  # handed to every member's operation, which reports it as before
            error = exc
        finally:
            self._unregister()
            for member in list(self.members):
                member.end(error)
            self.members.clear()


class Hub:
    """This process's shared subscription executions, by key."""

    def __init__(self) -> None:
        self.shared: dict[Key, Execution] = {}
        self.executions: set[Execution] = set()  # running, shared or not; a strong reference to their tasks

    @property
    def running(self) -> int:
        return len(self.executions)

    @property
    def members(self) -> int:
        return sum(len(e.members) for e in self.executions)

    async def subscribe(self, key: Key, context: Context, upstream: Upstream) -> AsyncGenerator[Any, None]:
        # Set up on the first read, so that a stream never read leaves nothing behind.
        detached = Context(
            actor=context.actor,
            services=context.services,
            request_id=context.request_id,
            language=context.language,
            connection_params=context.connection_params,
        )
        member = _Member()
        execution = Execution(self, key, detached, upstream)
        execution.add(member, -1)
        execution.start()
        try:
            while True:
                while member.pending:
                    yield member.pending.popleft()
                if member.slow:
                    yield _slow()
                    return
                if member.ended:
                    if member.error is not None:
                        raise member.error
                    return
                member.wake.clear()
                await member.wake.wait()
        finally:
            member.leave()

    async def aclose(self) -> None:
        """At shutdown: ends every execution (their subscriptions are ended, and leave the broker)."""
        tasks = [e.task for e in self.executions if e.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


class SharedSchema(strawberry.Schema):
    """strawberry.Schema whose WebSocket subscriptions go through a Hub (graphql-transport-ws and graphql-ws
    both call `stream`); HTTP and queries and mutations over a socket run as before."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hub = Hub()

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        report_errors(errors, execution_context)  # refusals at INFO, faults at ERROR (graph/errors.py)

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """A subscription runs only as a stream (over a WebSocket); executed once, as over HTTP, it would end
        with a meaningless error, so it is refused as an operation type not allowed there."""
        allowed = set(allowed_operation_types or (OperationType.QUERY, OperationType.MUTATION))
        return await super().execute(
            query,
            variable_values=variable_values,
            context_value=context_value,
            root_value=root_value,
            operation_name=operation_name,
            allowed_operation_types=allowed - {OperationType.SUBSCRIPTION},
            operation_extensions=operation_extensions,
        )

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        allowed = None if allowed_operation_types is None else tuple(allowed_operation_types)
        key = _key(query, variable_values, context_value, root_value, operation_name, operation_extensions, allowed)
        if key is None:
            return await super().stream(
                query,
                variable_values=variable_values,
                context_value=context_value,
                root_value=root_value,
                operation_name=operation_name,
                operation_extensions=operation_extensions,
                allowed_operation_types=allowed,
            )

        async def upstream(context: Context) -> StreamResult:
            return await strawberry.Schema.stream(
                self,
                query,
                variable_values=variable_values,
                context_value=context,
                operation_name=operation_name,
                allowed_operation_types=allowed,
            )

        assert isinstance(context_value, Context)
        return self.hub.subscribe(key, context_value, upstream)


def _key(
    query: str | None,
    variables: dict[str, Any] | None,
    context: Any,
    root_value: Any,
    operation_name: str | None,
    extensions: dict[str, Any] | None,
    allowed: tuple[OperationType, ...] | None,
) -> Key | None:
    """The sharing key of a WebSocket subscription; None for anything else, which is never shared."""
    if not isinstance(context, Context) or context.websocket is None or root_value is not None or extensions:
        return None
    if allowed is not None and OperationType.SUBSCRIPTION not in allowed:
        return None
    if not isinstance(query, str) or len(query) > _PARSE_CHARS or not _is_subscription(query, operation_name):
        return None
    try:
        canonical = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    return (query, operation_name, canonical, scope_of(context.actor), context.language)


def hand_over(info: Info[Context, None], position: int, shape: Hashable, *, complete: bool = True) -> bool:
    """Called by a subscription resolver before it waits for its next live event: True when its subscribers
    moved to a shared execution, and this one must end (see the module's docstring)."""
    execution = info.context.shared
    return execution is not None and execution.hand_over(position, shape, complete)


def taken(info: Info[Context, None], event_id: int) -> None:
    """The resolver took this event: the next result is for it (members who joined later skip it)."""
    execution = info.context.shared
    if execution is not None:
        execution.take(event_id)
