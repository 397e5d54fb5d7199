"""What the development profile shows of its sandboxes."""

from __future__ import annotations

import datetime as dt

import strawberry


@strawberry.type(description="An SMS the sandbox gateway recorded (development profile only).")
class SentMessage:
    id: str = strawberry.field(description="The outbox message's id, the same on every retry of it.")
    to: str = strawberry.field(description="The phone it went to.")
    text: str = strawberry.field(description="The text: it names the application number, never an IIN or a name.")
    language: str = strawberry.field(description="Its language: the application's notification language.")
    created_at: dt.datetime = strawberry.field(description="When the gateway received it.")
