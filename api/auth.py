"""Channel-signed JWTs (docs/api.md §1): signature, issuer, audience, expiry, role and area limits."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt

from api.config_files import Channel, ChannelKey
from domain.model import Actor, Role

AUDIENCE = "kezek"
VERIFIED_CACHE_SIZE = 50_000
_ALGORITHMS = ["HS256", "RS256", "ES256"]


class Reason(enum.StrEnum):
    """Why a token is refused: `extensions.reason` over HTTP, the 4403 close reason over WebSocket, so that the
    channel's team can fix its side (docs/api.md §1)."""

    EXPIRED = "expired"  # past exp (30 s of leeway)
    BAD_SIGNATURE = "bad_signature"  # the signature does not verify, or alg is not the key's algorithm
    UNKNOWN_KEY = "unknown_key"  # no such channel (iss) here, no such kid, or no kid where the channel has several
    WRONG_AUDIENCE = "wrong_audience"  # aud is not "kezek"
    ROLE_NOT_ALLOWED = "role_not_allowed"  # not a role, or one the channel may not use
    OUTSIDE_CHANNEL_LIMITS = "outside_channel_limits"  # a region or kindergarten outside the channel's regions
    MALFORMED = "malformed"  # not a Bearer JWT, a required claim missing or ill-formed, iat in the future


class Unauthenticated(Exception):
    """Bad, expired or out-of-limits token: the reason is told to the caller, the message goes to the log."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.args[0]}"


@dataclass(frozen=True, slots=True)
class Identity:
    actor: Actor
    expires_at: dt.datetime


class Authenticator:
    def __init__(
        self,
        channels: list[Channel],
        *,
        allow_development: bool,
        kindergarten_region: Callable[[str], Awaitable[str | None]],
    ) -> None:
        self._channels = {c.id: c for c in channels if allow_development or not c.development}
        # Looks up a kindergarten's region by externalId, to hold staff tokens to their channel's regions.
        self._kindergarten_region = kindergarten_region
        self._verified: dict[str, Identity] = {}

    def channel(self, channel_id: str) -> Channel | None:
        return self._channels.get(channel_id)

    def channels(self) -> list[Channel]:
        """The channels this profile accepts (development ones only in development)."""
        return list(self._channels.values())

    def _key(self, channel: Channel, kid: str | None) -> ChannelKey:
        if kid is None:
            if len(channel.keys) != 1:
                raise Unauthenticated(Reason.UNKNOWN_KEY, "kid required: the channel has several keys")
            return channel.keys[0]
        for key in channel.keys:
            if key.kid == kid:
                return key
        raise Unauthenticated(Reason.UNKNOWN_KEY, f"no key {kid!r} in channel {channel.id}")

    async def authenticate(self, header_value: str | None) -> Identity | None:
        """None for no token (public access); raises Unauthenticated for any bad token."""
        if header_value is None or not header_value.strip():
            return None
        scheme, _, token = header_value.strip().partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated(Reason.MALFORMED, "expected a Bearer token")
        # Apps send the same token with every request until it expires: a verified one is remembered.
        cached = self._verified.get(token)
        if cached is not None and cached.expires_at > dt.datetime.now(dt.UTC):
            return cached
        identity = await self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()  # crude bound; cheap to refill
        self._verified[token] = identity
        return identity

    async def _verify(self, token: str) -> Identity:
        try:
            # One unverified read for both parts (PyJWT checks the token's characters on every decode).
            parts = jwt.decode_complete(token, options={"verify_signature": False})
            header, unverified = parts["header"], parts["payload"]
        except jwt.PyJWTError as exc:
            raise Unauthenticated(Reason.MALFORMED, f"not a JWT: {type(exc).__name__}") from None
        channel = self._channels.get(str(unverified.get("iss", "")))
        if channel is None:
            raise Unauthenticated(Reason.UNKNOWN_KEY, "unknown issuer")
        key = self._key(channel, header.get("kid"))
        if header.get("alg") != key.algorithm:
            raise Unauthenticated(Reason.BAD_SIGNATURE, "algorithm does not match the channel key")
        material: Any = key.secret if key.algorithm == "HS256" else key.public_key
        try:
            claims = jwt.decode(
                token,
                material,
                algorithms=[key.algorithm],
                audience=AUDIENCE,
                issuer=channel.id,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=30,
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(_reason(exc), f"token rejected: {type(exc).__name__}: {exc}") from None
        return Identity(await self._actor(channel, claims), dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC))

    async def _actor(self, channel: Channel, claims: dict[str, Any]) -> Actor:
        try:
            role = Role(str(claims.get("role", "")).lower())
        except ValueError:
            raise Unauthenticated(Reason.ROLE_NOT_ALLOWED, "unknown role") from None
        if role not in channel.roles:
            raise Unauthenticated(Reason.ROLE_NOT_ALLOWED, f"channel {channel.id} may not use the role {role.value}")
        sub = str(claims["sub"])
        region = claims.get("region")
        district = claims.get("district")
        kindergarten = claims.get("kindergarten")
        if role == Role.AKIMAT_OPERATOR:
            if not region:
                raise Unauthenticated(Reason.MALFORMED, "operator tokens name a region")
            if district and not str(district).startswith(str(region)[:2]):
                raise Unauthenticated(Reason.MALFORMED, "district outside the region")
        if role == Role.KINDERGARTEN_STAFF and not kindergarten:
            raise Unauthenticated(Reason.MALFORMED, "staff tokens name a kindergarten")
        if channel.regions is not None:
            if role == Role.AKIMAT_OPERATOR and region not in channel.regions:
                raise Unauthenticated(Reason.OUTSIDE_CHANNEL_LIMITS, "region outside the channel's limits")
            if (
                role == Role.KINDERGARTEN_STAFF
                and await self._kindergarten_region(str(kindergarten)) not in channel.regions
            ):
                raise Unauthenticated(
                    Reason.OUTSIDE_CHANNEL_LIMITS, "kindergarten unknown or outside the channel's limits"
                )
            if role in (Role.CITIZEN, Role.MINISTRY) and region is not None and region not in channel.regions:
                raise Unauthenticated(Reason.OUTSIDE_CHANNEL_LIMITS, "region outside the channel's limits")
        return Actor(
            role=role,
            subject=sub,
            channel=channel.id,
            region_code=str(region) if region and role == Role.AKIMAT_OPERATOR else None,
            district_code=str(district) if district and role == Role.AKIMAT_OPERATOR else None,
            kindergarten=str(kindergarten) if role == Role.KINDERGARTEN_STAFF else None,
        )


def _reason(exc: jwt.PyJWTError) -> Reason:
    """The reason for what PyJWT refused once the token was read (InvalidSignatureError is a DecodeError)."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return Reason.EXPIRED
    if isinstance(exc, jwt.InvalidSignatureError | jwt.InvalidAlgorithmError | jwt.InvalidKeyError):
        return Reason.BAD_SIGNATURE
    if isinstance(exc, jwt.InvalidAudienceError):
        return Reason.WRONG_AUDIENCE
    if isinstance(exc, jwt.InvalidIssuerError):
        return Reason.UNKNOWN_KEY
    return Reason.MALFORMED  # a required claim missing, exp or iat not a number, iat or nbf in the future


def mint(
    channel: Channel,
    role: Role,
    sub: str,
    *,
    region: str | None = None,
    district: str | None = None,
    kindergarten: str | None = None,
    lifetime: dt.timedelta = dt.timedelta(hours=12),
    kid: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Signs a token as the channel would (development channels, tests, `kezek dev-token`)."""
    key = next((k for k in channel.keys if kid is None or k.kid == kid), None)
    if key is None:
        raise ValueError(f"channel {channel.id} has no key {kid}")
    material = key.secret if key.algorithm == "HS256" else key.private_key
    if not material:
        raise ValueError(f"channel {channel.id} key {key.kid} has no signing material here")
    issued = now or dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {
        "iss": channel.id,
        "aud": AUDIENCE,
        "sub": sub,
        "role": role.value,
        "iat": int(issued.timestamp()),
        "exp": int((issued + lifetime).timestamp()),
    }
    for name, value in (("region", region), ("district", district), ("kindergarten", kindergarten)):
        if value is not None:
            claims[name] = value
    return jwt.encode(claims, material, algorithm=key.algorithm, headers={"kid": key.kid})
