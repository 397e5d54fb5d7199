"""Development profile only: the SMS the sandbox gateway recorded."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.common import I
from graph.dev.types import SentMessage
from graph.errors import forbidden


@strawberry.field(
    description="Development profile only (FORBIDDEN in production): the SMS the sandbox gateway recorded for a phone. "
    "Messages are written with the change and sent by the worker on its next pass, so they appear seconds later."
)
async def sent_messages(
    info: I, phone: Annotated[str, strawberry.argument(description="The phone, as +7XXXXXXXXXX.")]
) -> list[SentMessage]:
    services = info.context.services
    if not services.development or services.sandbox is None:
        raise forbidden()
    rows = await services.sandbox.sent_messages(phone.strip())
    return [
        SentMessage(id=r["id"], to=r["to"], text=r["text"], language=r["language"], created_at=r["created_at"])
        for r in rows
    ]
