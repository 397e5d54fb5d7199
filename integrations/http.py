"""HTTP adapters for the ports of docs/product.md §9; wire formats in docs/integrations.md."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from domain.errors import RegistryUnavailable
from domain.iin import mask
from domain.model import BenefitFinding, Language, Person, PriorityCategory
from domain.ports import HealthDocument

log = logging.getLogger(__name__)

_IIN_RUN = re.compile(r"(?<!\d)\d{12}(?!\d)")


class _MaskIins(logging.Filter):
    """httpx logs every request URL at INFO, and registry URLs carry IINs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _IIN_RUN.sub(lambda m: mask(m.group()), message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


logging.getLogger("httpx").addFilter(_MaskIins())

_MAX_BACKOFF = 5.0


class SmsSendFailed(Exception):
    """The SMS gateway did not accept a message; the dispatcher keeps it in the outbox and retries."""

    def __init__(self, message_id: str, detail: str) -> None:
        super().__init__(f"SMS {message_id} not sent: {detail}")
        self.message_id = message_id


class _Malformed(Exception):
    """A response body that does not match the documented shape."""


def _transient(status: int) -> bool:
    # 408 and 429 mean "try later" as much as a 5xx does.
    return status >= 500 or status in (408, 429)


class _Client:
    """One remote service: an httpx client plus the shared retry loop.

    `retries` counts the attempts after the first one, so a call makes at most `retries + 1` requests.
    """

    def __init__(
        self,
        timeout: float,
        retries: int,
        backoff: float,
        client: httpx.AsyncClient | None,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self._retries = retries
        self._backoff = backoff
        self._owned = client is None
        self._http = client if client is not None else httpx.AsyncClient(timeout=timeout)
        self._timeout = timeout

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        label: str,
        fail: Callable[[str], Exception],
        retry_status: Callable[[int], bool] = _transient,
        json: object = None,
    ) -> httpx.Response:
        """Send until a response whose status is not retried; raise `fail(detail)` when out of attempts.

        `label` names the call in logs: it must not carry a whole IIN or a phone number, and the URL is
        never logged for that reason. The same `json` body goes out on every attempt.
        """
        detail = ""
        for attempt in range(self._retries + 1):
            try:
                response = await self._http.request(method, url, json=json, timeout=self._timeout)
            except httpx.TransportError as exc:  # connection refused/reset, timeouts, protocol errors
                detail = type(exc).__name__
            else:
                if not retry_status(response.status_code):
                    return response
                detail = f"HTTP {response.status_code}"
            if attempt < self._retries:
                delay = min(_MAX_BACKOFF, self._backoff * 2**attempt)
                log.warning("%s failed (%s), retry %d/%d in %.2fs", label, detail, attempt + 1, self._retries, delay)
                await asyncio.sleep(delay)
        log.error("%s failed (%s) after %d attempts", label, detail, self._retries + 1)
        raise fail(detail)


class _Registry:
    """Base of the registry adapters: a base URL, and RegistryUnavailable when the service fails."""

    service = "registry"

    def __init__(
        self,
        base_url: str,
        timeout: float,
        retries: int,
        *,
        backoff: float = 0.2,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._client = _Client(timeout, retries, backoff, client)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _unavailable(self, detail: str) -> RegistryUnavailable:
        return RegistryUnavailable(self.service, detail)

    async def _call(self, method: str, path: str, label: str, json: object = None) -> Any | None:
        """JSON body of a 2xx answer, None for a 404; anything else is RegistryUnavailable."""
        response = await self._client.request(
            method, self._base + path, label=f"{self.service} {label}", fail=self._unavailable, json=json
        )
        if response.status_code == 404:
            return None
        if not response.is_success:
            # A 4xx other than 404 will not change on retry: the caller still gets "did not answer".
            raise self._unavailable(f"HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise self._unavailable("response is not JSON") from exc

    def _malformed(self, exc: Exception) -> RegistryUnavailable:
        log.error("%s answered with an unexpected shape: %s", self.service, type(exc).__name__)
        return self._unavailable("malformed response")


def _seg(iin: str) -> str:
    return quote(iin, safe="")


def _obj(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Malformed("object expected")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _Malformed("array expected")
    return value


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise _Malformed(f"{key}: string expected")
    return value


def _opt_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise _Malformed(f"{key}: string expected")
    return value


def _bool(obj: dict[str, Any], key: str, default: bool | None = None) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise _Malformed(f"{key}: boolean expected")
    return value


def _iins(body: Any) -> list[str]:
    iins = _list(_obj(body)["iins"])
    if not all(isinstance(i, str) for i in iins):
        raise _Malformed("iins: strings expected")
    return iins


_SHAPE_ERRORS = (_Malformed, KeyError, ValueError, TypeError)


class HttpPopulationRegistry(_Registry):
    """ГБД ФЛ (PopulationRegistry)."""

    service = "population-registry"

    async def person(self, iin: str) -> Person | None:
        body = await self._call("GET", f"/persons/{_seg(iin)}", f"person {mask(iin)}")
        if body is None:
            return None
        try:
            p = _obj(body)
            return Person(
                iin=_str(p, "iin"),
                full_name=_str(p, "fullName"),
                birth_date=dt.date.fromisoformat(_str(p, "birthDate")),
                sex=_str(p, "sex"),
                alive=_bool(p, "alive"),
                district_code=_opt_str(p, "districtCode"),
                phone=_opt_str(p, "phone"),
            )
        except _SHAPE_ERRORS as exc:
            raise self._malformed(exc) from exc

    async def representatives(self, child_iin: str) -> list[str]:
        return await self._iin_list(f"/persons/{_seg(child_iin)}/representatives", "representatives", child_iin)

    async def children(self, iin: str) -> list[str]:
        return await self._iin_list(f"/persons/{_seg(iin)}/children", "children", iin)

    async def _iin_list(self, path: str, what: str, iin: str) -> list[str]:
        body = await self._call("GET", path, f"{what} of {mask(iin)}")
        if body is None:  # an unknown person has no relatives on record
            return []
        try:
            return _iins(body)
        except _SHAPE_ERRORS as exc:
            raise self._malformed(exc) from exc


class HttpBenefitsRegistry(_Registry):
    """Benefits registry (BenefitsRegistry)."""

    service = "benefits-registry"

    async def findings(self, iins: list[str]) -> list[BenefitFinding]:
        if not iins:
            return []
        body = await self._call("POST", "/benefits/search", f"search for {len(iins)} people", {"iins": iins})
        if body is None:
            return []
        try:
            found: list[BenefitFinding] = []
            for raw in _list(_obj(body)["findings"]):
                f = _obj(raw)
                subject = _str(f, "iin")
                try:
                    category = PriorityCategory(_str(f, "category"))
                except ValueError:
                    # A category Kezek does not know cannot give a priority; skipping it keeps the rest.
                    log.warning("%s: unknown category for %s skipped", self.service, mask(subject))
                    continue
                found.append(
                    BenefitFinding(
                        subject_iin=subject,
                        category=category,
                        evidence_id=_str(f, "evidenceId"),
                        needs_manual_check=_bool(f, "needsManualCheck", False),
                    )
                )
            return found
        except _SHAPE_ERRORS as exc:
            raise self._malformed(exc) from exc


class HttpHealthRegistry(_Registry):
    """Health registry (HealthRegistry)."""

    service = "health-registry"

    async def documents(self, child_iin: str) -> list[HealthDocument]:
        body = await self._call("GET", f"/health/{_seg(child_iin)}/documents", f"documents of {mask(child_iin)}")
        if body is None:
            return []
        try:
            return [
                HealthDocument(
                    kind=_str(d, "kind"),
                    document_id=_str(d, "documentId"),
                    issued_on=dt.date.fromisoformat(_str(d, "issuedOn")),
                )
                for d in map(_obj, _list(_obj(body)["documents"]))
            ]
        except _SHAPE_ERRORS as exc:
            raise self._malformed(exc) from exc


class HttpESignature(_Registry):
    """E-signature verification service (ESignature)."""

    service = "e-signature"

    async def verify(self, signer_iin: str, document_hash: str, signature: str) -> bool:
        body = await self._call(
            "POST",
            "/verify",
            f"verify for {mask(signer_iin)}",
            {"iin": signer_iin, "documentHash": document_hash, "signature": signature},
        )
        if body is None:
            raise self._unavailable("HTTP 404")
        try:
            return _bool(_obj(body), "valid")
        except _SHAPE_ERRORS as exc:
            raise self._malformed(exc) from exc


class HttpSmsGateway:
    """SMS gateway (docs/api.md §2): POST {"id", "to", "text", "language"}; any 2xx is accepted."""

    def __init__(
        self,
        url: str,
        timeout: float,
        retries: int,
        *,
        backoff: float = 0.2,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = url
        self._client = _Client(timeout, retries, backoff, client)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def send(self, message_id: str, to: str, text: str, language: Language) -> None:
        # One body for every attempt: the gateway drops duplicates by `id`.
        body = {"id": message_id, "to": to, "text": text, "language": language.value}
        await self._client.request(
            "POST",
            self._url,
            label=f"sms {message_id}",
            fail=lambda detail: SmsSendFailed(message_id, detail),
            # Unlike a registry, any answer but a 2xx leaves the message unsent: retry it.
            retry_status=lambda status: not 200 <= status < 300,
            json=body,
        )
