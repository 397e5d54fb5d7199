"""Channel-signed JWTs (docs/api.md §1): signature, issuer, audience, expiry, role and area limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt

from api.config_files import Channel, ChannelKey
from domain.model import Actor, Role

AUDIENCE = "kezek"
VERIFIED_CACHE_SIZE = 50_000
_ALGORITHMS = ["HS256", "RS256", "ES256"]


class Unauthenticated(Exception):
    """Bad, expired or out-of-limits token. The message is for logs; clients only see the code."""


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
                raise Unauthenticated("kid required: the channel has several keys")
            return channel.keys[0]
        for key in channel.keys:
            if key.kid == kid:
                return key
        raise Unauthenticated("unknown kid")

    async def authenticate(self, header_value: str | None) -> Identity | None:
        """None for no token (public access); raises Unauthenticated for any bad token."""
        if header_value is None or not header_value.strip():
            return None
        scheme, _, token = header_value.strip().partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("expected a Bearer token")
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
            raise Unauthenticated(f"malformed token: {type(exc).__name__}") from None
        channel = self._channels.get(str(unverified.get("iss", "")))
        if channel is None:
            raise Unauthenticated("unknown issuer")
        key = self._key(channel, header.get("kid"))
        if header.get("alg") != key.algorithm:
            raise Unauthenticated("algorithm does not match the channel key")
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
            raise Unauthenticated(f"token rejected: {type(exc).__name__}") from None
        return Identity(await self._actor(channel, claims), dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC))

    async def _actor(self, channel: Channel, claims: dict[str, Any]) -> Actor:
        try:
            role = Role(str(claims.get("role", "")).lower())
        except ValueError:
            raise Unauthenticated("unknown role") from None
        if role not in channel.roles:
            raise Unauthenticated("the channel may not use this role")
        sub = str(claims["sub"])
        region = claims.get("region")
        district = claims.get("district")
        kindergarten = claims.get("kindergarten")
        if role == Role.AKIMAT_OPERATOR:
            if not region:
                raise Unauthenticated("operator tokens name a region")
            if district and not str(district).startswith(str(region)[:2]):
                raise Unauthenticated("district outside the region")
        if role == Role.KINDERGARTEN_STAFF and not kindergarten:
            raise Unauthenticated("staff tokens name a kindergarten")
        if channel.regions is not None:
            if role == Role.AKIMAT_OPERATOR and region not in channel.regions:
                raise Unauthenticated("region outside the channel's limits")
            if (
                role == Role.KINDERGARTEN_STAFF
                and await self._kindergarten_region(str(kindergarten)) not in channel.regions
            ):
                raise Unauthenticated("kindergarten outside the channel's limits")
            if role in (Role.CITIZEN, Role.MINISTRY) and region is not None and region not in channel.regions:
                raise Unauthenticated("region outside the channel's limits")
        return Actor(
            role=role,
            subject=sub,
            channel=channel.id,
            region_code=str(region) if region and role == Role.AKIMAT_OPERATOR else None,
            district_code=str(district) if district and role == Role.AKIMAT_OPERATOR else None,
            kindergarten=str(kindergarten) if role == Role.KINDERGARTEN_STAFF else None,
        )


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
