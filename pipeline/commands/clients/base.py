"""What every venue cancel client shares: the account it acts for, replies, error classes.

    VenueError
     ├── TransientError   timeouts, connection failures, 429 / 5xx: retried (429 after its wait)
     └── BusinessError    the venue refused (unknown order, -2011, ORDER_CLOSED): never retried

Clients are the only code that opens sockets; one client serves one (venue, account). Every
aiohttp / timeout failure is translated here, once, into `TransientError`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import aiohttp

from pipeline.domain.orders import OrderState
from pipeline.errors import PipelineError
from pipeline.ingest.config import Credentials


class VenueError(PipelineError):
    """A venue request failed; `code` is the venue's own error code (text), never a secret."""

    def __init__(self, code: str | None, message: str, retry_after_ms: int | None = None) -> None:
        self.code = code
        self.message = message[:300]
        self.retry_after_ms = retry_after_ms
        super().__init__(f"{code}: {self.message}" if code else self.message)


class TransientError(VenueError):
    """Worth retrying: the request may not have reached the venue, or was throttled."""


class BusinessError(VenueError):
    """The venue understood and refused; retrying cannot help."""


@dataclass(frozen=True)
class VenueAccount:
    """Where and as whom to send one account's cancels. Secrets never appear in a repr."""

    venue: str
    account: str
    base_url: str
    credentials: Credentials
    ws_url: str | None = None
    private_key: str | None = field(default=None, repr=False)  # SSI: RSA PKCS#8 PEM
    pin: str | None = field(default=None, repr=False)  # SSI: PIN for the access token

    def __repr__(self) -> str:
        return f"VenueAccount({self.venue}/{self.account} {self.base_url}, credentials=***)"


@dataclass
class Ack:
    """What the venue answered to one request."""

    order_ids: list[str] = field(default_factory=list)  # orders the request reached
    canceled_qty: Decimal | None = None  # canceled by this request, when the reply says
    remaining_qty: Decimal | None = None
    new_order_id: str | None = None
    errors: dict[str, VenueError] = field(default_factory=dict)  # per order, scope requests
    # per order: a refusal that may still arrive after the acknowledgement (SSI `orderError`
    # on the stream); resolves with the error, is cancelled by the executor when it is done
    refusals: dict[str, asyncio.Future[VenueError]] = field(default_factory=dict)


class CancelClient(Protocol):
    account: VenueAccount

    async def cancel_order(self, state: OrderState) -> Ack: ...

    async def cancel_scope(self, venue_symbol: str | None, states: list[OrderState]) -> Ack: ...

    async def amend(self, state: OrderState, new_qty: Decimal) -> Ack: ...

    async def replace(self, state: OrderState, reduce_by: Decimal) -> Ack: ...

    async def close(self) -> None: ...


class HttpClientBase:
    """Shared HTTP plumbing: one session, a timeout, transport errors -> `TransientError`."""

    def __init__(
        self,
        account: VenueAccount,
        http: aiohttp.ClientSession | None = None,
        clock: Callable[[], int] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.account = account
        self._own_http = http is None
        self._http = http
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.clock = clock

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        return self._http

    @contextlib.asynccontextmanager
    async def transport(self) -> AsyncIterator[None]:
        try:
            yield
        except TimeoutError as exc:
            raise TransientError("timeout", f"{self.account.venue}: request timed out") from exc
        except aiohttp.ClientError as exc:
            raise TransientError(
                "transport", f"{self.account.venue}: {type(exc).__name__}"
            ) from exc

    async def request_json(self, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
        async with (
            self.transport(),
            self.http.request(method, url, timeout=self.timeout, **kwargs) as response,
        ):
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None
            return response.status, body

    async def amend(self, state: OrderState, new_qty: Decimal) -> Ack:
        raise BusinessError("unsupported", f"{self.account.venue} cannot amend an order")

    async def replace(self, state: OrderState, reduce_by: Decimal) -> Ack:
        raise BusinessError("unsupported", f"{self.account.venue} cannot replace an order")

    async def close(self) -> None:
        if self._own_http and self._http is not None:
            await self._http.close()


def http_status_error(
    status: int, code: str | None, message: str, retry_after_ms: int | None = None
) -> VenueError:
    """429 and 5xx are transient; every other refusal is a business error."""
    if status == 429 or status >= 500:
        return TransientError(code or str(status), message, retry_after_ms)
    return BusinessError(code or str(status), message)
