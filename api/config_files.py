"""The JSON files operators write (docs/api.md §2), parsed strictly: a bad file names itself and the field."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from domain import iin as iin_rules
from domain.model import GroupType, Language, Ownership, PriorityCategory, Role
from domain.policy import DeclineEffect, Policy, PolicyBook, Window


class ConfigFileError(Exception):
    def __init__(self, path: Path, field: str, problem: str) -> None:
        super().__init__(f"{path}: {field}: {problem}")
        self.path = path
        self.field = field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


M = TypeVar("M", bound=BaseModel)


def _load(path: Path, model: type[M]) -> M:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigFileError(path, "(file)", "not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigFileError(path, f"(line {exc.lineno})", f"not valid JSON: {exc.msg}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        raise ConfigFileError(path, where, err["msg"]) from None


# --- channels -----------------------------------------------------------------------------------


class ChannelKey(_Strict):
    kid: str
    algorithm: Literal["HS256", "RS256", "ES256"]
    secret: str | None = None
    public_key: str | None = Field(default=None, alias="publicKey")
    # Development channels only: lets `kezek dev-token` sign RS256/ES256 tokens.
    private_key: str | None = Field(default=None, alias="privateKey")

    @model_validator(mode="after")
    def _material(self) -> ChannelKey:
        if self.algorithm == "HS256" and not self.secret:
            raise ValueError("HS256 keys need a 'secret'")
        if self.algorithm == "HS256" and self.secret and len(self.secret) < 32:
            raise ValueError("HS256 secrets must be at least 32 characters")
        if self.algorithm != "HS256" and not self.public_key:
            raise ValueError(f"{self.algorithm} keys need a 'publicKey'")
        return self


# What a browser sends in Origin: scheme://host[:port], in lower case, no path and no trailing slash.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ORIGIN = re.compile(rf"^https?://(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:.]+\])(?::(\d{{1,5}}))?$")


def _origin(value: str) -> str:
    match = _ORIGIN.match(value)
    port = match.group(1) if match else None
    if match is None or (port is not None and not 0 < int(port) < 65536):
        raise ValueError(
            f"{value!r} is not a web origin as a browser sends it: scheme://host[:port] in lower case, "
            "http or https, without a path or a trailing slash (e.g. https://app.bank.kz)"
        )
    if port == {"http": "80", "https": "443"}[value.split(":", 1)[0]]:
        raise ValueError(f"{value!r} names its scheme's default port, which browsers leave out of Origin")
    return value


Origin = Annotated[str, AfterValidator(_origin)]


class Channel(_Strict):
    id: str = Field(min_length=1)
    kind: Literal["EGOV", "BANK", "AKIMAT", "KINDERGARTEN", "MINISTRY"]
    roles: list[Role] = Field(min_length=1)
    regions: list[str] | None = None
    keys: list[ChannelKey] = Field(min_length=1)
    development: bool = False
    trusted_documents_only: bool = Field(default=False, alias="trustedDocumentsOnly")
    # Web origins of the channel's browser apps: CORS answers them (api/cors.py).
    origins: list[Origin] = []

    @field_validator("roles", mode="before")
    @classmethod
    def _roles(cls, value: Any) -> Any:
        return [v.lower() if isinstance(v, str) else v for v in value] if isinstance(value, list) else value


class ChannelsFile(_Strict):
    channels: list[Channel]

    @model_validator(mode="before")
    @classmethod
    def _wrap(cls, value: Any) -> Any:
        return {"channels": value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _unique(self) -> ChannelsFile:
        ids = [c.id for c in self.channels]
        if len(set(ids)) != len(ids):
            raise ValueError("channel ids must be unique")
        return self


def load_channels(path: Path) -> list[Channel]:
    return _load(path, ChannelsFile).channels


# --- policy -------------------------------------------------------------------------------------

_WD = re.compile(r"^(\d+)WD$")
_ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_window(value: str) -> Window:
    """`"<n>WD"` or an ISO 8601 duration of days, hours, minutes, seconds (`PT30S`, `P28D`)."""
    if m := _WD.match(value):
        return Window(working_days=int(m.group(1)))
    m = _ISO.match(value)
    if not m or value in ("P", "PT") or value.endswith("T"):
        raise ValueError(f"{value!r} is neither an ISO 8601 duration nor '<n>WD'")
    d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    delta = dt.timedelta(days=d, hours=h, minutes=mi, seconds=s)
    if delta <= dt.timedelta(0):
        raise ValueError("a window must be longer than zero")
    return Window(duration=delta)


WindowText = Annotated[str, Field(pattern=r"^(\d+WD|P.*)$")]


class PolicyEntry(_Strict):
    response_window: WindowText | None = Field(default=None, alias="responseWindow")
    contract_window: WindowText | None = Field(default=None, alias="contractWindow")
    extension: WindowText | None = None
    restore_window: WindowText | None = Field(default=None, alias="restoreWindow")
    manual_verification_window: WindowText | None = Field(default=None, alias="manualVerificationWindow")
    decline_effect: DeclineEffect | None = Field(default=None, alias="declineEffect")
    min_admission_age_months: int | None = Field(default=None, alias="minAdmissionAgeMonths", ge=0, le=120)
    advance_offer_days: int | None = Field(default=None, alias="advanceOfferDays", ge=0, le=366)
    primary_ratio: tuple[int, int] | None = Field(default=None, alias="primaryRatio")

    @field_validator("response_window", "contract_window", "extension", "restore_window", "manual_verification_window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            parse_window(value)
        return value

    @field_validator("primary_ratio")
    @classmethod
    def _ratio(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and (value[0] < 0 or value[1] < 0 or value == (0, 0)):
            raise ValueError("primaryRatio must be two non-negative numbers, not both zero")
        return value

    def apply(self, base: Policy) -> Policy:
        def w(text: str | None, current: Window) -> Window:
            return parse_window(text) if text is not None else current

        return Policy(
            response_window=w(self.response_window, base.response_window),
            contract_window=w(self.contract_window, base.contract_window),
            extension=w(self.extension, base.extension),
            restore_window=w(self.restore_window, base.restore_window),
            manual_verification_window=w(self.manual_verification_window, base.manual_verification_window),
            decline_effect=self.decline_effect or base.decline_effect,
            min_admission_age_months=(
                self.min_admission_age_months
                if self.min_admission_age_months is not None
                else base.min_admission_age_months
            ),
            advance_offer_days=(
                self.advance_offer_days if self.advance_offer_days is not None else base.advance_offer_days
            ),
            primary_ratio=self.primary_ratio if self.primary_ratio is not None else base.primary_ratio,
        )


class PolicyFile(_Strict):
    default: PolicyEntry = PolicyEntry()
    regions: dict[str, PolicyEntry] = {}


def load_policy(path: Path | None) -> PolicyBook:
    if path is None:
        return PolicyBook(default=Policy(), regions={})
    parsed = _load(path, PolicyFile)
    default = parsed.default.apply(Policy())
    return PolicyBook(default=default, regions={code: e.apply(default) for code, e in parsed.regions.items()})


# --- places -------------------------------------------------------------------------------------


class DistrictEntry(_Strict):
    code: str = Field(min_length=1)
    name_kk: str = Field(alias="nameKk", min_length=1)
    name_ru: str = Field(alias="nameRu", min_length=1)


class RegionEntry(DistrictEntry):
    districts: list[DistrictEntry] = []


class GroupEntry(_Strict):
    external_id: str = Field(alias="externalId", min_length=1)
    birth_year_from: int = Field(alias="birthYearFrom", ge=2000, le=2100)
    birth_year_to: int = Field(alias="birthYearTo", ge=2000, le=2100)
    language: Language
    group_type: GroupType = Field(default=GroupType.GENERAL, alias="groupType")
    capacity: int = Field(ge=0, le=1000)

    @model_validator(mode="after")
    def _years(self) -> GroupEntry:
        if self.birth_year_from > self.birth_year_to:
            raise ValueError("birthYearFrom is after birthYearTo")
        return self


class KindergartenEntry(_Strict):
    external_id: str = Field(alias="externalId", min_length=1)
    district_code: str = Field(alias="districtCode", min_length=1)
    name_kk: str = Field(alias="nameKk", min_length=1)
    name_ru: str = Field(alias="nameRu", min_length=1)
    address: str = ""
    ownership: Ownership = Ownership.STATE
    state_order: bool = Field(default=False, alias="stateOrder")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    groups: list[GroupEntry] = []


class PlacesFile(_Strict):
    regions: list[RegionEntry] = []
    kindergartens: list[KindergartenEntry] = []


def load_places(path: Path) -> PlacesFile:
    return _load(path, PlacesFile)


def parse_places(raw: Any, path: Path = Path("(places)")) -> PlacesFile:
    try:
        return PlacesFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigFileError(path, ".".join(str(p) for p in err["loc"]), err["msg"]) from None


# --- sandbox registries -------------------------------------------------------------------------


def _iin(value: str) -> str:
    if not iin_rules.is_valid(value):
        raise ValueError(f"{iin_rules.mask(value)} is not a valid IIN")
    return value


class SandboxPerson(_Strict):
    iin: str
    full_name: str = Field(alias="fullName", min_length=1)
    birth_date: dt.date = Field(alias="birthDate")
    sex: Literal["M", "F"]
    alive: bool = True
    district_code: str | None = Field(default=None, alias="districtCode")
    phone: str | None = None

    _v = field_validator("iin")(classmethod(lambda cls, v: _iin(v)))


class SandboxFamily(_Strict):
    child_iin: str = Field(alias="childIin")
    representative_iins: list[str] = Field(alias="representativeIins")


class SandboxBenefit(_Strict):
    iin: str
    category: PriorityCategory
    evidence_id: str = Field(alias="evidenceId", min_length=1)


class SandboxHealth(_Strict):
    child_iin: str = Field(alias="childIin")
    kind: str = Field(min_length=1)
    document_id: str = Field(alias="documentId", min_length=1)
    issued_on: dt.date = Field(alias="issuedOn")


class SandboxFile(_Strict):
    persons: list[SandboxPerson] = []
    families: list[SandboxFamily] = []
    benefits: list[SandboxBenefit] = []
    health: list[SandboxHealth] = []


def load_sandbox(path: Path) -> SandboxFile:
    return _load(path, SandboxFile)


def parse_sandbox(raw: Any, path: Path = Path("(sandbox)")) -> SandboxFile:
    try:
        return SandboxFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigFileError(path, ".".join(str(p) for p in err["loc"]), err["msg"]) from None
