"""What the development profile shows of its sandboxes."""

from __future__ import annotations

import datetime as dt

import strawberry


@strawberry.type
class SentMessage:
    id: str
    to: str
    text: str
    language: str
    created_at: dt.datetime
