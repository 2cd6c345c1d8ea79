"""SSI FastConnect Trading v2: an access token, the order book per account, the stream.

Session:

1. `POST api/v2/Trading/AccessToken` `{consumerID, consumerSecret, twoFactorType: 0, code:
   <PIN>, isSave: true}` -> `data.accessToken` (the consumer id and secret are the account's
   API key pair, the PIN comes from the environment or the secrets file, never the config);
   reads need only `Authorization: Bearer <token>` (writes, i.e. the cancel executor, add
   `X-Signature` with the RSA private key: `pipeline.venues.ssi.auth.signature`);
2. the stream WebSocket (`ws_url`; the simulator's plain-WebSocket stand-in for SignalR's
   `BroadcastHubV2`), authenticated with the same bearer header, from `notify_id`: on the
   first connect the option `notify_id` (default 0: replay the day), after a reconnect the
   last `notifyID` seen, so the venue replays exactly what was missed. Each message is
   published on channel `stream`;
3. `GET api/v2/Trading/orderBook?account=` at once and every `poll_interval`, for each of
   the consumer's accounts (option `accounts`, default the entry's account) -> channel
   `rest.orderBook` (published only when it changed). The order book lists the day's
   orders, finished ones included, so no per-order recovery is needed.

Keys: SSI messages cover a whole account, so they are keyed `ssi|<account>|*` with the
account the payload names (`data.account`; the envelope carries it too), else the entry's.
Requests are throttled (default 5/s; SSI allows 20/s per consumer). A 401 (token expired)
or any failed call ends the session: the reconnect logs in again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from pipeline.envelope import RawEnvelope
from pipeline.errors import ConfigError
from pipeline.ingest.base import RestPoller, SessionError, cancel_tasks, supervise
from pipeline.venues.credentials import extra_credential_env_names
from pipeline.venues.errors import VenueError
from pipeline.venues.ssi import errors as ssi_errors
from pipeline.venues.ssi.client import access_token
from pipeline.venues.ssi.mapping import CHANNEL_ORDER_BOOK as ORDER_BOOK
from pipeline.venues.ssi.mapping import CHANNEL_STREAM as STREAM

log = logging.getLogger(__name__)

ALL = "*"


def _data(payload: Any) -> dict[str, Any] | None:
    """The `data` object of a stream message or order book (decoded if sent as a string)."""
    if not isinstance(payload, dict):
        return None
    data = payload.get("data")
    if isinstance(data, str | bytes):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
    return data if isinstance(data, dict) else None


class SsiIngestor(RestPoller):
    venue = "ssi"
    default_rate_limit = 5.0
    default_rate_burst = 5.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.credentials.pin:
            pin_name = extra_credential_env_names(self.venue, self.account)[1]
            raise ConfigError(
                pin_name, "(unset)", f"SSI needs the PIN of {self.config.name}'s AccessToken "
                "call: set it or add `pin` to the account in the secrets file"
            )  # fmt: skip
        accounts = self.config.options.get("accounts") or [self.account]
        if not isinstance(accounts, list) or not all(isinstance(a, str) and a for a in accounts):
            raise ConfigError(f"{self.config.name} options.accounts", accounts, "expected names")
        self.accounts: tuple[str, ...] = tuple(accounts)
        start = self.config.options.get("notify_id", 0)
        self.notify_id: int = start if isinstance(start, int) else 0
        self._token = ""

    def __repr__(self) -> str:  # the token never shows
        return f"SsiIngestor({self.config.name})"

    # -- keys -----------------------------------------------------------------------------

    def symbol_of(self, payload: Any) -> str | None:
        return ALL if _data(payload) is not None else None

    async def publish(
        self, channel: str, payload: Any, request_symbol: str | None, received_at: int
    ) -> bool:
        data = _data(payload)
        if data is None:
            self.counters.unkeyed += 1
            return False
        account = data.get("account")
        account = account if isinstance(account, str) and account else self.account
        envelope = RawEnvelope(self.venue, account, channel, received_at, payload)
        await self.publisher.publish(envelope, ALL)
        return True

    # -- the session ----------------------------------------------------------------------

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def login(self, http: aiohttp.ClientSession) -> None:
        await self.throttle()
        credentials = self.credentials
        try:
            self._token = await access_token(
                http, self.config.base_url, credentials.api_key, credentials.secret_key,
                credentials.pin or "",
            )  # fmt: skip
        except VenueError:
            self.counters.errors += 1
            raise

    async def session(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        self._last = {}
        if not self.config.ws_url:
            await super().session(http, stop)
            return
        await self.login(http)
        url = f"{self.config.ws_url}?{urlencode({'notify_id': self.notify_id})}"
        try:
            ws = await http.ws_connect(
                url, headers=self._auth(), heartbeat=self.config.ping_interval
            )
        except aiohttp.WSServerHandshakeError as exc:
            self.counters.errors += 1
            raise SessionError(f"stream refused: HTTP {exc.status}") from None
        async with ws:
            reader = asyncio.create_task(self._read(ws))
            poller: asyncio.Task[None] | None = None
            try:
                await self.poll(http)  # the snapshot after (re)connecting
                self.counters.snapshots += 1
                self.counters.connects += 1
                poller = asyncio.create_task(self.poll_forever(http, stop))
                await supervise(stop, reader, poller)
            finally:
                await cancel_tasks(reader, poller)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                if message.type is aiohttp.WSMsgType.ERROR:
                    raise SessionError(f"websocket error: {ws.exception()}")
                continue
            payload = await self.file(STREAM, message.data)
            data = _data(payload)
            notify = data.get("notifyID") if data is not None else None
            if isinstance(notify, int) and not isinstance(notify, bool):
                self.notify_id = max(self.notify_id, notify)

    # -- REST -----------------------------------------------------------------------------

    async def poll(self, http: aiohttp.ClientSession) -> None:
        for account in self.accounts:
            await self.throttle()
            query = urlencode({"account": account})
            url = f"{self.config.base_url}/api/v2/Trading/orderBook?{query}"
            async with http.get(url, headers=self._auth()) as response:
                status, raw = response.status, await response.read()
            try:
                reply = orjson.loads(raw)
            except orjson.JSONDecodeError:
                reply = None
            if status != 200 or (reply is not None and ssi_errors.failed(status, reply)):
                self.counters.errors += 1
                raise ssi_errors.classify(status, reply, f"orderBook {account}")
            if reply is None:
                await self.file(ORDER_BOOK, raw, ALL)  # -> dead letter
                raise SessionError(f"orderBook {account}: reply is not JSON")
            await self.file_changed(ORDER_BOOK, raw, account)


_JSON = {"Content-Type": "application/json"}
