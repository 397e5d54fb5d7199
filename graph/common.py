"""What the features' types share: the resolvers' Info, the domain's enums, and UserError (docs/api.md §3)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain import model
from graph.context import Context

I = Info[Context, None]  # noqa: E741

# The domain's enums, registered with Strawberry once; annotations use the domain classes themselves.
Role = model.Role
Language = model.Language
GroupType = model.GroupType
Ownership = model.Ownership
PriorityTier = model.PriorityTier
PriorityCategory = model.PriorityCategory
ClaimStatus = model.ClaimStatus
ApplicationStatus = model.ApplicationStatus
OfferStatus = model.OfferStatus
ErrorCode = model.ErrorCode
for _enum in (
    Role,
    Language,
    GroupType,
    Ownership,
    PriorityTier,
    PriorityCategory,
    ClaimStatus,
    ApplicationStatus,
    OfferStatus,
    ErrorCode,
):
    strawberry.enum(_enum, name=_enum.__name__)


@strawberry.type
class UserError:
    code: ErrorCode
    message: str
    field: str | None = None
