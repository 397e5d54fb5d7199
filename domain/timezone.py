"""Kezek's civil time: Asia/Almaty. Deadlines end, days start and birthdays come in it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

ALMATY = ZoneInfo("Asia/Almaty")


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(ALMATY).date()


def at_local(day: dt.date, time: dt.time) -> dt.datetime:
    """That local time of that day, as an aware UTC datetime."""
    return dt.datetime.combine(day, time, ALMATY).astimezone(dt.UTC)
