"""Application nodes for every feature that shows one: the batches its selection needs loaded ahead, and the
visibility check. The node type itself is declared in graph/applications/types.py, which imports the features
that point back at applications (offers, claims, children); they build the node through these functions."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

from domain import model
from graph.access import can_see_application
from graph.common import I
from graph.nodes import Deferred, Node

APPLICATION = Deferred[model.Application]("ApplicationNode", "graph.applications.types")


def _selects(selection: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], *path: str) -> bool:
    """Whether the selection asks for this path of fields (through fragments too). Walks graphql-core's AST:
    Strawberry's `info.selected_fields` converts the whole subtree first, 5% of a status query's CPU."""
    if selection is None:
        return False
    for node in selection.selections:
        if isinstance(node, FieldNode):
            if node.name.value == path[0] and (len(path) == 1 or _selects(node.selection_set, fragments, *path[1:])):
                return True
        elif isinstance(node, InlineFragmentNode):
            if _selects(node.selection_set, fragments, *path):
                return True
        elif isinstance(node, FragmentSpreadNode):
            fragment = fragments.get(node.name.value)
            if fragment is not None and _selects(fragment.selection_set, fragments, *path):
                return True
    return False


async def load_ahead(info: I, app: model.Application) -> None:
    """Loads the batches the selection of the application's node needs below it (one statement each for all
    the applications of the request), so that those fields resolve at once."""
    loaders = info.context.loaders
    raw = info._raw_info  # graphql-core's resolve info: the field's AST nodes and the document's fragments

    def wants(*path: str) -> bool:
        return any(_selects(node.selection_set, raw.fragments, *path) for node in raw.field_nodes)

    pending: list[Awaitable[Any]] = []
    if wants("choices", "kindergarten"):
        pending += [loaders.kindergarten_by_id.load(c.kindergarten_id) for c in app.choices]
    if wants("choices", "position") or wants("choices", "estimate"):
        pending += [loaders.position_by_choice.load((app.id, c.kindergarten_id)) for c in app.choices]
    if wants("choices", "estimate"):
        today = info.context.services.queue.estimates.today()
        pending += [loaders.standing_by_choice_and_date.load((app.id, c.kindergarten_id, today)) for c in app.choices]
    if wants("offer"):
        pending.append(loaders.live_offer_by_application_id.load(app.id))
    for loaded in pending:  # all scheduled already: their batches run together; no gather needed
        await loaded


async def visible_application(info: I, application_id: int) -> Node[model.Application] | None:
    """The application when the caller may see it, else null (a hidden one looks like a missing one)."""
    app = await info.context.loaders.application_by_id.load(application_id)
    if app is None or not await can_see_application(info, app):
        return None
    await load_ahead(info, app)
    return APPLICATION(app)
