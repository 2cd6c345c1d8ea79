"""The simulator's control API (HTTP on loopback, no auth: it binds to 127.0.0.1 only).

| request | effect |
| --- | --- |
| `GET /control/status` | endpoints, flow state and counters, order counts per venue |
| `POST /control/faults` | body `{"venue"?, "duplicate": 0.1, ...}`: a `FaultPlan` (no venue: all) |
| `POST /control/disconnect?venue=upbit` | drop the venue's WebSocket connections (no venue: all) |
| `POST /control/flow?action=pause\\|resume` | stop or restart the order flow |
| `POST /control/settle` | pause the flow and complete pending cancels: the state is final |
| `GET /control/truth[?accounts=a,b]` | the ground truth as JSON (decimals as strings) |

Credentials are not served here: the CLI writes them to a secrets file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from pipeline.sim.faults import FaultPlan

if TYPE_CHECKING:
    from pipeline.sim.server import Simulator


class ControlServer:
    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.router.add_get("/control/status", self._status)
        app.router.add_post("/control/faults", self._faults)
        app.router.add_post("/control/disconnect", self._disconnect)
        app.router.add_post("/control/flow", self._flow)
        app.router.add_post("/control/settle", self._settle)
        app.router.add_get("/control/truth", self._truth)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.host, self.port = host, self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _venue(self, request: web.Request, body: dict[str, Any] | None = None) -> str | None:
        venue = (body or {}).pop("venue", None) or request.query.get("venue")
        if venue is not None and venue not in self.simulator.servers:
            raise web.HTTPBadRequest(text=f"unknown venue {venue!r}")
        return venue

    async def _status(self, request: web.Request) -> web.Response:
        sim = self.simulator
        orders = {
            venue: {"orders": len(ex.orders), "open": len(ex.live_orders), "fills": len(ex.fills)}
            for venue, ex in sim.exchanges.items()
        }
        return web.json_response(
            {
                "endpoints": sim.endpoints(),
                "accounts": {v: [c.account for c in sim.credentials(v)] for v in sim.servers},
                "flow": {
                    "running": sim.flow_running,
                    "actions": dict(sim.flow.actions),
                    "rejections": dict(sim.flow.rejections),
                },
                "faults": {v: s.faults.to_dict() for v, s in sim.servers.items()},
                "venues": orders,
            }
        )

    async def _faults(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object")
            venue = self._venue(request, body)
            plan = FaultPlan.from_mapping(body)
        except (ValueError, TypeError) as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        self.simulator.set_faults(plan, venue)
        return web.json_response({"venue": venue, "faults": plan.to_dict()})

    async def _disconnect(self, request: web.Request) -> web.Response:
        venue = self._venue(request)
        return web.json_response(
            {"venue": venue, "dropped": await self.simulator.disconnect(venue)}
        )

    async def _flow(self, request: web.Request) -> web.Response:
        action = request.query.get("action")
        if action == "pause":
            await self.simulator.pause_flow()
        elif action == "resume":
            self.simulator.resume_flow()
        else:
            raise web.HTTPBadRequest(text="action must be pause or resume")
        return web.json_response({"running": self.simulator.flow_running})

    async def _settle(self, request: web.Request) -> web.Response:
        await self.simulator.quiesce(drain_seconds=0)
        return web.json_response({"settled": True, "summary": self.simulator.truth().summary()})

    async def _truth(self, request: web.Request) -> web.Response:
        accounts = request.query.get("accounts")
        wanted = [a for a in accounts.split(",") if a] if accounts else None
        return web.json_response(self.simulator.truth(wanted).to_json())
