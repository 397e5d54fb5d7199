"""Node types: GraphQL objects that are thin adapters over one domain object each (docs/api.md §3).

A node type declares each field once, in its class body. `@node_type` makes it a Strawberry type and gives
it an `__init__(self, m)` that keeps the domain object as `self.m` and copies every plain field of the type
(no resolver, not Private) from `m` by name, as a plain attribute; an `ID` field gets the id as a string, and a
field declared `= derived(f)` gets `f(m)` (a list of nodes, a figure computed from others). What to copy is
read once per class from Strawberry's own definition of the type and compiled into straight code, as
`dataclasses` does: plain attributes are what graphql-core resolves fastest (a resolver costs a dozen calls
each time), and the status query builds a few dozen nodes per request. Fields with a resolver read `self.m`
when they are asked for.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Generic, TypeVar, cast

import strawberry
from strawberry.types.base import StrawberryContainer, StrawberryOptional, has_object_definition
from strawberry.types.private import is_private

M = TypeVar("M")
N = TypeVar("N", bound="Node[Any]")
T = TypeVar("T")
R = TypeVar("R")

_BY_NAME: dict[tuple[str, str], type[Node[Any]]] = {}  # node classes by (module, class name)


class Node(Generic[M]):
    """Base of the node types, for the type checker: `XNode(m=...)` over the domain object `m`."""

    m: M

    def __init__(self, m: M, **private: Any) -> None:  # replaced by the class's own in @node_type
        raise TypeError(f"{type(self).__name__} is not declared with @node_type")


def node_type(name: str, *, description: str | None = None) -> Callable[[type[N]], type[N]]:
    """`@strawberry.type(name=...)` for a node class, with the `__init__` that copies its plain fields."""

    def decorate(cls: type[N]) -> type[N]:
        cls = strawberry.type(cls, name=name, description=description)
        setattr(cls, "__init__", _init_of(cls))  # noqa: B010 (mypy refuses assigning a method)
        _BY_NAME[(cls.__module__, cls.__name__)] = cls
        return cls

    return decorate


class _Derived:
    __slots__ = ("derive",)

    def __init__(self, derive: Callable[[Any], Any]) -> None:
        self.derive = derive


def derived(derive: Callable[[Any], T]) -> T:
    """A plain field computed from the domain object when the node is built: `derive(m)`."""
    return cast(T, _Derived(derive))


def _init_of(cls: type[Any]) -> Callable[..., None]:
    fields = [f for f in cls.__strawberry_definition__.fields if f.base_resolver is None]
    private = [f for f in fields if is_private(f.type)]
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    params = ["self", "m", *(["*"] if private else []), *(f"{f.python_name}=_{f.python_name}" for f in private)]
    body = ["self.m = m", *(f"self.{f.python_name} = {f.python_name}" for f in private)]
    scope: dict[str, Any] = {"_ID": strawberry.ID, **{f"_{f.python_name}": defaults[f.python_name] for f in private}}
    for field in fields:
        attr, field_type, default = field.python_name, field.type, defaults[field.python_name]
        if is_private(field_type):
            if default is dataclasses.MISSING:
                raise TypeError(f"{cls.__name__}.{attr}: a Private field of a node type needs a default")
        elif isinstance(default, _Derived):
            scope[f"_derive_{attr}"] = default.derive
            body.append(f"self.{attr} = _derive_{attr}(m)")
        elif field_type is strawberry.ID:
            body.append(f"self.{attr} = _ID(str(m.{attr}))")
        elif isinstance(field_type, StrawberryOptional) and field_type.of_type is strawberry.ID:
            body.append(f"self.{attr} = None if (v := m.{attr}) is None else _ID(str(v))")
        elif _holds_objects(field_type):
            raise TypeError(f"{cls.__name__}.{attr}: a field of object type is built by a resolver, or derived()")
        else:
            body.append(f"self.{attr} = m.{attr}")
    source = f"def __init__({', '.join(params)}):\n" + "".join(f"    {line}\n" for line in body)
    exec(compile(source, f"<{cls.__qualname__}.__init__>", "exec"), scope)  # noqa: S102 (our own field names)
    init = cast(Callable[..., None], scope["__init__"])
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _holds_objects(field_type: Any) -> bool:
    while isinstance(field_type, StrawberryContainer):
        field_type = field_type.of_type
    return has_object_definition(field_type)


class Deferred(Generic[M]):
    """A node type of a feature that imports this one (the schema's types refer to one another; the modules
    may not). `graphql_type` names it for Strawberry, which resolves it when it builds the schema
    (`strawberry.lazy`); calling it builds a node from the class that module declared."""

    def __init__(self, class_name: str, module: str) -> None:
        self.graphql_type: Any = Annotated[class_name, strawberry.lazy(module)]
        self._key = (module, class_name)

    def __call__(self, m: M) -> Node[M]:
        return _BY_NAME[self._key](m=m)


def _same(value: T) -> T:
    return value


def ready(loaded: Awaitable[T], wrap: Callable[[T], R] = _same) -> R:  # type: ignore[assignment]
    """The loaded value at once when its batch has already arrived, else an awaitable of it.

    graphql-core awaits whatever a resolver returns that is awaitable; a value it gets at once costs no
    task and no event-loop turn, which for the status query is most of the cost of a field.
    """
    if isinstance(loaded, asyncio.Future) and loaded.done():
        return wrap(loaded.result())

    async def later() -> R:
        return wrap(await loaded)

    return cast(R, later())
