"""How the Kalshi REST client talks to Kalshi: signed requests under Kalshi's rate limits,
retried with backoff and jitter, every error body read, responses decoded into the
schemas of trading.kalshi.schemas.rest, cursor listings paged, and its own health.
The calls themselves are trading.kalshi.rest's."""

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncGenerator
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

from trading.health import ComponentHealth, Criticality
from trading.kalshi.errors import KalshiApiError, KalshiResponseError, KalshiTransportError
from trading.kalshi.rate_limits import DEFAULT_COST, TIERS, TokenBucket
from trading.kalshi.schemas.rest import DECODERS
from trading.kalshi.signing import Signer

log = logging.getLogger("trading.kalshi.rest")


@dataclass
class RestMetrics:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429 answers
    errors: int = 0  # error answers surfaced to the caller
    recovered_orders: int = 0  # retried creates answered by looking the order up

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class Retry(Exception):
    """An attempt worth repeating (429, 5xx, transport); carries what to raise if out of attempts."""

    def __init__(self, final: Exception):
        super().__init__(str(final))
        self.final = final


class RestTransport:
    def __init__(
        self,
        rest_url: str,
        signer: Signer,
        *,
        tier: str = "basic",
        max_retries: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if tier not in TIERS:
            raise ValueError(f"unknown Kalshi usage tier {tier!r}: one of {', '.join(TIERS)}")
        self.rest_url = rest_url.rstrip("/")
        self.signer = signer
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.metrics = RestMetrics()
        self._failures = 0  # requests failed in a row, for health()
        self._last_failure = ""
        read_rate, write_rate = TIERS[tier]
        self.read_bucket = TokenBucket(read_rate)
        self.write_bucket = TokenBucket(write_rate)
        self._base_path = urlsplit(self.rest_url).path
        self._http = httpx.AsyncClient(
            base_url=self.rest_url + "/",
            timeout=timeout,
            transport=transport,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---- health -------------------------------------------------------------------

    def health(self) -> ComponentHealth:
        """Unhealthy while the exchange's REST API keeps failing (transport errors, 5xx, 429):
        from the first failure until a request gets an answer again."""
        failing = self._failures > 0
        return ComponentHealth(
            "kalshi_rest",
            not failing,
            Criticality.NON_CRITICAL,
            f"{self._failures} request(s) failed in a row: {self._last_failure}" if failing else "",
            self.metrics.to_dict(),
        )

    # ---- plumbing -----------------------------------------------------------------

    async def _get(self, path: str, model: type, params: dict[str, Any] | None = None, cost: int = DEFAULT_COST) -> Any:
        return await self._retrying("GET", path, model, params=params, cost=cost, retry_server_errors=True)

    async def _retrying(
        self,
        method: str,
        path: str,
        model: type | None,
        *,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        write: bool = False,
        cost: int = DEFAULT_COST,
        retry_server_errors: bool = False,
    ) -> Any:
        """``model`` None: an answer without a body (204)."""
        attempt = 0
        while True:
            try:
                response = await self._send(method, path, params=params, content=content, write=write, cost=cost)
                if response.status_code < 300:
                    return None if model is None else self._decode(model, response, f"{method} {path}")
                raise self._error(response, retryable=retry_server_errors)
            except Retry as retry:
                attempt += 1
                if attempt > self.max_retries:
                    raise retry.final from None
                await self._pause(f"{method} {path}", attempt, retry.final)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        write: bool = False,
        cost: int = DEFAULT_COST,
    ) -> httpx.Response:
        await (self.write_bucket if write else self.read_bucket).acquire(cost)
        headers = self.signer.headers(method, self._base_path + path)
        self.metrics.requests += 1
        try:
            response = await self._http.request(
                method, path.lstrip("/"), params=params, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            self._failed(f"{method} {path}: {exc!r}")
            raise Retry(KalshiTransportError(f"{method} {path}: {exc!r}")) from exc
        if response.status_code >= 500 or response.status_code == 429:
            self._failed(f"{method} {path}: HTTP {response.status_code}")
        else:
            self._failures = 0
        return response

    def _failed(self, what: str) -> None:
        self._failures += 1
        self._last_failure = what

    def _error(self, response: httpx.Response, *, retryable: bool) -> Exception:
        error = KalshiApiError.from_response(response.status_code, response.content)
        if response.status_code == 429:
            self.metrics.rate_limited += 1
            return Retry(error)
        if response.status_code >= 500 and retryable:
            return Retry(error)
        self.metrics.errors += 1
        return error

    async def _pause(self, what: str, attempt: int, cause: Exception) -> None:
        """Exponential backoff with jitter; Kalshi's 429 carries no Retry-After to go by."""
        self.metrics.retries += 1
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        log.warning("%s: %s; retry %d/%d in %.2f s", what, cause, attempt, self.max_retries, delay)
        await asyncio.sleep(delay)

    @staticmethod
    def _decode(model: type, response: httpx.Response, what: str) -> Any:
        try:
            return DECODERS[model].decode(response.content)
        except msgspec.DecodeError as exc:
            raise KalshiResponseError(f"{what}: unexpected response ({exc})") from None

    async def _page_objects(
        self, path: str, page_model: type, filters: dict[str, Any], page_size: int
    ) -> AsyncGenerator[Any, None]:
        """Pages of a cursor listing; the cursor does not remember filters, so they go every time.
        Kalshi accepts a garbage cursor with 200, so a repeated cursor ends the loop."""
        params = {key: value for key, value in filters.items() if value is not None}
        params.setdefault("limit", page_size)
        seen: set[str] = set()
        while True:
            page = await self._get(path, page_model, params)
            yield page
            if not page.cursor:
                return
            if page.cursor in seen:
                log.warning("GET %s: cursor %r came back twice; stopping", path, page.cursor)
                return
            seen.add(page.cursor)
            params["cursor"] = page.cursor

    async def _pages(
        self, path: str, page_model: type, key: str, filters: dict[str, Any], page_size: int
    ) -> AsyncGenerator[Any, None]:
        async for page in self._page_objects(path, page_model, filters, page_size):
            for item in getattr(page, key):
                yield item


async def collect(items: AsyncGenerator[Any, None], max_items: int | None) -> list[Any]:
    result = []
    async with contextlib.aclosing(items):
        async for item in items:
            result.append(item)
            if max_items is not None and len(result) >= max_items:
                break
    return result
