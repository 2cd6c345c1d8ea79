"""SSI FastConnect v2 cancels (FACTS.md §4.1-4.2, seed 001): `CancelOrder`, one order per
request, signed with the account's RSA key over the exact body. HTTP 200 only acknowledges:
`WC`, then `CL` (or an `orderError`) follow on the stream, so the canonical state confirms.
An access token is fetched on first use and again after a 401."""

from __future__ import annotations

import asyncio
import itertools
import time
from decimal import Decimal
from typing import Any

import orjson

from pipeline.commands.clients.base import Ack, BusinessError, HttpClientBase, http_status_error
from pipeline.domain.orders import OrderState
from pipeline.sim.venue_signing import ssi_signature

_REQUEST_IDS = itertools.count(int(time.time()) % 10_000_000)


class SsiCancelClient(HttpClientBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._token: str | None = None
        self._lock = asyncio.Lock()

    async def _login(self) -> str:
        async with self._lock:
            if self._token is None:
                creds = self.account.credentials
                body = {
                    "consumerID": creds.api_key,
                    "consumerSecret": creds.secret_key,
                    "twoFactorType": 0,
                    "code": self._secret("pin") or "",
                    "isSave": True,
                }
                status, reply = await self.request_json(
                    "POST", f"{self.account.base_url}/api/v2/Trading/AccessToken", json=body
                )
                if not isinstance(reply, dict) or reply.get("status") != 200:
                    message = reply.get("message", "") if isinstance(reply, dict) else ""
                    raise http_status_error(
                        status if status != 200 else 401,
                        "login",
                        f"access token refused: {message}",
                    )
                self._token = str(reply["data"]["accessToken"])
            return self._token

    def _secret(self, name: str) -> str | None:
        """`private_key` / `pin`: the account's override, else the venue credentials'."""
        value = getattr(self.account, name, None) or getattr(self.account.credentials, name, None)
        return value if isinstance(value, str) and value else None

    async def cancel_order(self, state: OrderState) -> Ack:
        private_key = self._secret("private_key")
        if private_key is None:
            raise BusinessError("config", "no RSA private key configured for this SSI account")
        for attempt in (1, 2):
            token = await self._login()
            request_id = str(next(_REQUEST_IDS) % 100_000_000)
            raw = orjson.dumps(
                {
                    "account": self.account.account,
                    "requestID": request_id,
                    "orderID": state.order_id,
                    "instrumentID": state.venue_symbol,
                    "marketID": "VNFE" if state.venue_symbol.startswith("VN30F") else "VN",
                    "buySell": "B" if state.side.value == "buy" else "S",
                    "code": "",
                    "deviceId": "",
                    "userAgent": "trading-pipeline",
                }
            )
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "X-Signature": ssi_signature(private_key, raw),
            }
            status, body = await self.request_json(
                "POST",
                f"{self.account.base_url}/api/v2/Trading/CancelOrder",
                data=raw,
                headers=headers,
            )
            if status == 401 and attempt == 1:
                self._token = None
                continue
            if isinstance(body, dict) and body.get("status") == 200:
                return Ack(order_ids=[state.order_id])
            message = str(body.get("message", "")) if isinstance(body, dict) else f"HTTP {status}"
            code = str(body.get("status", status)) if isinstance(body, dict) else str(status)
            raise http_status_error(
                429 if code == "429" else (status if status != 200 else 400), code, message
            )
        raise BusinessError("401", "SSI refused the access token")

    async def cancel_scope(self, venue_symbol: str | None, states: list[OrderState]) -> Ack:
        raise BusinessError("unsupported", "ssi cancels one order at a time")

    async def amend(self, state: OrderState, new_qty: Decimal) -> Ack:
        raise BusinessError("unsupported", "ssi amends are not used by cancel commands")
