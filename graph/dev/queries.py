"""Development profile only: the SMS the sandbox gateway recorded."""

from __future__ import annotations

import strawberry

from graph.common import I
from graph.dev.types import SentMessage
from graph.errors import forbidden


@strawberry.field(description="Development profile only: SMS recorded by the sandbox gateway.")
async def sent_messages(info: I, phone: str) -> list[SentMessage]:
    services = info.context.services
    if not services.development or services.sandbox is None:
        raise forbidden()
    rows = await services.sandbox.sent_messages(phone.strip())
    return [
        SentMessage(id=r["id"], to=r["to"], text=r["text"], language=r["language"], created_at=r["created_at"])
        for r in rows
    ]
