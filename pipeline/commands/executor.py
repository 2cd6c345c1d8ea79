"""`CancelExecutor`: validate, authenticate, plan, send, confirm, report — once per command_id.

    handle(raw) -> final result dict
      parse + validate the shape ─ rejected? ────────────────────> "rejected" (nothing sent)
      authenticate (signature) ─ rejected? ─> "rejected", reason "not authenticated" only
      seen command_id? same content: re-send its result; other content: "rejected"
      authorize (allow-list, freshness), known account ─ rejected? ─> "rejected"
      plan from the StateView ─> send the actions (rate-limited, bounded, retried if
      transient) ─> "in_progress" (version 1) ─> wait until the canonical state confirms every
      outcome or the timeout ─> "completed" / "partially_completed" / "failed" / "timed_out"
      (version 2, final)

Retries are for transient failures only (timeouts, transport errors, 429 after its wait);
a business refusal (unknown order, -2011, ORDER_CLOSED) is never retried: the outcome keeps
the venue's code and is settled by the canonical state (a fill that won the race is
`already_terminal`) or, failing that within a short grace, `failed`. A refusal the venue
reports after acknowledging (SSI `orderError`, via `Ack.refusals`) is settled the same way.
A scope request that reaches fewer orders than planned because of the venue's per-request cap
(`scope_batch`, upbit 300) is followed by per-order cancels of the rest.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from pipeline.commands import results as r
from pipeline.commands.auth import Authenticator
from pipeline.commands.capabilities import CAPABILITIES, VenueCapabilities
from pipeline.commands.clients.base import BusinessError, CancelClient, TransientError, VenueError
from pipeline.commands.model import (
    MAX_ID_CHARS,
    CancelCommand,
    CommandRejected,
    check_account,
    parse_command,
)
from pipeline.commands.planner import AMEND, CANCEL, CANCEL_SCOPE, REPLACE, Action, plan
from pipeline.commands.ratelimit import BudgetUnavailable, RateLimiter
from pipeline.commands.state_view import StateView
from pipeline.domain.events import OrderStatus
from pipeline.domain.orders import OrderState
from pipeline.venues.registry import VENUES

log = logging.getLogger(__name__)

Publish = Callable[[dict[str, Any]], Awaitable[None]]
ORDER_GROUP, SCOPE_GROUP = "order", "scope"
ERROR_GRACE_S = 2.0  # after a refusal, how long the canonical state may take to explain it


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class CancelExecutor:
    def __init__(
        self,
        view: StateView,
        clients: Mapping[tuple[str, str], CancelClient],
        authenticator: Authenticator | None,
        limiter: RateLimiter | None = None,
        clock: Callable[[], int] | None = None,  # None: the wall clock in ms
        capabilities: Mapping[str, VenueCapabilities] = CAPABILITIES,
        confirm_timeout_s: float | None = None,
        max_attempts: int = 4,
        publish: Publish | None = None,
    ) -> None:
        self.view = view
        self.clients = dict(clients)
        self.authenticator = authenticator
        self.clock = clock or _wall_ms
        self.limiter = limiter or RateLimiter(self.clock)
        self.capabilities = capabilities
        self.confirm_timeout_s = confirm_timeout_s
        self.max_attempts = max_attempts
        self.publish = publish
        self.results: dict[str, dict[str, Any]] = {}  # command_id -> final result
        self.executions = 0  # commands actually executed (for tests and metrics)
        self._inflight: dict[str, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._refusals: dict[str, list[asyncio.Future[VenueError]]] = {}  # per command_id

    @property
    def accounts(self) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for venue, account in self.clients:
            out.setdefault(venue, set()).add(account)
        return {venue: frozenset(accounts) for venue, accounts in out.items()}

    def remember(self, result: Mapping[str, Any]) -> None:
        """A result read back from `commands.results` (on start): redeliveries re-send it."""
        cid = result.get("command_id")
        if isinstance(cid, str) and result.get("final") and result.get("status") != "rejected":
            current = self.results.get(cid)
            if current is None or int(current.get("version", 0)) <= int(result.get("version", 0)):
                self.results[cid] = dict(result)

    async def _emit(self, result: dict[str, Any]) -> None:
        if self.publish is not None:
            await self.publish(result)

    async def handle(self, raw: Any) -> dict[str, Any]:
        """Run one decoded command (at most once per command_id); return its final result."""
        now = self.clock()
        try:
            command = parse_command(raw)
        except CommandRejected as exc:
            cid = exc.command_id or _anonymous_id(raw)
            venue = raw.get("venue") if isinstance(raw, dict) else None
            account = raw.get("account") if isinstance(raw, dict) else None
            return await self._reject(cid, venue, account, exc.reason, now)
        if self.authenticator is not None:
            try:
                self.authenticator.authenticate(raw, command)
            except CommandRejected as exc:
                log.warning("command %r rejected: %s (%s)", command.command_id[:64],
                            exc.reason, exc.detail)  # fmt: skip
                return await self._reject(
                    command.command_id, command.venue, command.account, exc.reason, now
                )
        digest = command.digest
        known = self.results.get(command.command_id)
        if known is not None:
            if known.get("command_digest") == digest:
                log.info("command %s delivered again: re-sending its result", command.command_id)
                await self._emit(known)
                return known
            return await self._reuse(command, now)
        inflight = self._inflight.get(command.command_id)
        if inflight is not None:
            if inflight[0] != digest:
                return await self._reuse(command, now)
            return await asyncio.shield(inflight[1])
        try:
            if self.authenticator is not None:
                self.authenticator.authorize(command, now)
            check_account(command, self.accounts)
        except CommandRejected as exc:
            log.warning("command %s rejected: %s", command.command_id, exc.reason)
            return await self._reject(
                command.command_id, command.venue, command.account, exc.reason, now
            )
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._inflight[command.command_id] = (digest, future)
        try:
            result = await self._execute(command, digest)
            self.results[command.command_id] = result
            future.set_result(result)
            return result
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # consumed here; waiters re-raise it
            raise
        finally:
            self._inflight.pop(command.command_id, None)

    async def _reject(
        self, cid: str, venue: Any, account: Any, reason: str, now: int
    ) -> dict[str, Any]:
        """Publish a rejection. What it echoes of the command is bounded: a venue only when
        it is one, an account only when it is a short printable string."""
        venue = venue if venue in VENUES else ""
        if not (
            isinstance(account, str) and len(account) <= MAX_ID_CHARS and account.isprintable()
        ):
            account = None
        result = r.rejected_result(cid, venue, account, reason, now)
        await self._emit(result)
        return result

    async def _reuse(self, command: CancelCommand, now: int) -> dict[str, Any]:
        reason = "command_id already used for a different command (replay refused)"
        log.warning("command %s rejected: %s", command.command_id, reason)
        return await self._reject(command.command_id, command.venue, command.account, reason, now)

    # -- execution ------------------------------------------------------------------------

    async def _execute(self, command: CancelCommand, digest: str) -> dict[str, Any]:
        self.executions += 1
        caps = self.capabilities[command.venue]
        started = self.clock()
        budget: dict[str, int] = {}
        if caps.scope_limit is not None:
            for venue, account in self.clients:
                if venue == command.venue:
                    budget[account] = self.limiter.available(
                        venue, SCOPE_GROUP, account, caps.scope_limit
                    )
        the_plan = plan(command, self.view, caps, budget)
        outcomes = the_plan.outcomes
        index = {(o.account, o.order_id): o for o in outcomes}
        actions: list[Action] = []
        for action in the_plan.actions:  # reserve scope budget now: planning and taking agree
            if (
                action.kind == CANCEL_SCOPE
                and caps.scope_limit is not None
                and (
                    not self.limiter.try_acquire(
                        command.venue, SCOPE_GROUP, action.account, caps.scope_limit
                    )
                )
            ):
                actions += [
                    Action(CANCEL, action.account, [s], s.venue_symbol) for s in action.orders
                ]
            else:
                actions.append(action)
        loop = asyncio.get_running_loop()
        timeout = self.confirm_timeout_s or caps.confirm_timeout_s
        deadline = loop.time() + timeout
        await asyncio.gather(*(self._send(command, caps, a, index, outcomes) for a in actions))
        reason = "; ".join(the_plan.notes) or None
        if any(not o.resolved for o in outcomes):
            await self._emit(
                r.result_dict(
                    command.command_id,
                    command.venue,
                    command.account,
                    outcomes,
                    final=False,
                    started_at=started,
                    finished_at=self.clock(),
                    version=1,
                    reason=reason,
                    digest=digest,
                )
            )
        try:
            timed_out = await self._confirm(command.venue, outcomes, deadline)
        finally:
            for refusal in self._refusals.pop(command.command_id, []):
                refusal.cancel()  # no longer awaited: the client forgets its request id
        return_value = r.result_dict(
            command.command_id,
            command.venue,
            command.account,
            outcomes,
            final=True,
            started_at=started,
            finished_at=self.clock(),
            version=2,
            timed_out=timed_out,
            reason=reason,
            digest=digest,
        )
        await self._emit(return_value)
        return return_value

    def _semaphore(self, venue: str, caps: VenueCapabilities) -> asyncio.Semaphore:
        sem = self._semaphores.get(venue)
        if sem is None:
            sem = self._semaphores[venue] = asyncio.Semaphore(caps.concurrency)
        return sem

    async def _send(
        self,
        command: CancelCommand,
        caps: VenueCapabilities,
        action: Action,
        index: dict[tuple[str | None, str], r.Outcome],
        outcomes: list[r.Outcome],
    ) -> None:
        targets = [index[(s.account, s.order_id)] for s in action.orders]
        client = self.clients.get((command.venue, action.account))
        if client is None:
            for outcome in targets:
                outcome.outcome, outcome.expect = r.FAILED, r.Expect.NONE
                outcome.add_note(f"no credentials configured for {command.venue}/{action.account}")
            return
        sent_at = self.clock()
        for outcome in targets:
            outcome.sent_at = sent_at
        try:
            async with self._semaphore(command.venue, caps):
                ack = await self._call(command.venue, caps, action, client)
        except VenueError as exc:
            if action.kind == CANCEL_SCOPE and isinstance(exc, TransientError):
                for outcome in targets:  # the scope endpoint is throttled: go order by order
                    outcome.add_note(f"scope cancel refused ({exc.code}): canceled order by order")
                singles = [
                    Action(CANCEL, action.account, [s], s.venue_symbol) for s in action.orders
                ]
                await asyncio.gather(
                    *(self._send(command, caps, a, index, outcomes) for a in singles)
                )
                return
            for outcome in targets:
                outcome.venue_error_code, outcome.venue_error = exc.code, exc.message
                outcome.expect = r.Expect.ERROR
            return
        for outcome in targets:
            outcome.latency_ms = max(0, self.clock() - sent_at)
            error = ack.errors.get(outcome.order_id)
            if error is not None:
                outcome.venue_error_code, outcome.venue_error = error.code, error.message
                outcome.expect = r.Expect.ERROR
            if action.kind == REPLACE:
                outcome.new_order_id = ack.new_order_id
                if ack.new_order_id is None and error is None:
                    outcome.expect = r.Expect.CANCEL  # nothing left to re-place
            refusal = ack.refusals.get(outcome.order_id)
            if refusal is not None:
                self._watch_refusal(command.command_id, outcome, refusal)
        if action.kind == CANCEL_SCOPE:
            for order_id in ack.order_ids:
                if (action.account, order_id) not in index:
                    extra = r.Outcome(
                        order_id, action.account, None, expect=r.Expect.EXTRA, sent_at=sent_at
                    )
                    extra.note = "canceled by the scope request; not in the canonical state"
                    index[(action.account, order_id)] = extra
                    outcomes.append(extra)
            batch = caps.scope_batch
            if batch is not None and len(action.orders) > batch:
                reached = set(ack.order_ids) | set(ack.errors)
                rest = [s for s in action.orders if s.order_id not in reached]
                for s in rest:
                    index[(s.account, s.order_id)].add_note(
                        f"beyond the scope cancel's {batch} orders per request: "
                        "canceled order by order"
                    )
                await asyncio.gather(
                    *(
                        self._send(
                            command,
                            caps,
                            Action(CANCEL, action.account, [s], s.venue_symbol),
                            index,
                            outcomes,
                        )
                        for s in rest
                    )
                )

    def _watch_refusal(
        self, command_id: str, outcome: r.Outcome, refusal: asyncio.Future[VenueError]
    ) -> None:
        """A refusal the venue reports after its acknowledgement (SSI `orderError`): the
        outcome then settles like an immediate refusal (canonical state first, then failed)."""
        self._refusals.setdefault(command_id, []).append(refusal)

        def refused(future: asyncio.Future[VenueError]) -> None:
            if future.cancelled() or future.exception() is not None or outcome.resolved:
                return
            error = future.result()
            outcome.venue_error_code, outcome.venue_error = error.code, error.message
            outcome.expect = r.Expect.ERROR
            self.view.poke()

        refusal.add_done_callback(refused)

    async def _call(
        self, venue: str, caps: VenueCapabilities, action: Action, client: CancelClient
    ) -> Any:
        group = SCOPE_GROUP if action.kind == CANCEL_SCOPE else ORDER_GROUP
        for attempt in range(1, self.max_attempts + 1):
            if group == ORDER_GROUP:
                try:
                    await self.limiter.acquire(venue, group, action.account, caps.order_limit)
                except BudgetUnavailable as exc:  # settled like a refusal: the outcome fails
                    raise TransientError("rate_limited", str(exc)) from exc
            try:
                state = action.orders[0] if action.orders else None
                if action.kind == CANCEL_SCOPE:
                    return await client.cancel_scope(action.venue_symbol, action.orders)
                assert state is not None
                if action.kind == AMEND:
                    assert action.new_qty is not None
                    return await client.amend(state, action.new_qty)
                if action.kind == REPLACE:
                    assert action.reduce_by is not None
                    return await client.replace(state, action.reduce_by)
                return await client.cancel_order(state)
            except BusinessError:
                raise
            except TransientError as exc:
                if exc.retry_after_ms is not None:
                    self.limiter.penalize(venue, group, action.account, exc.retry_after_ms)
                if group == SCOPE_GROUP or attempt == self.max_attempts:
                    raise
                wait = (exc.retry_after_ms or 0) / 1000 or min(2.0, 0.2 * 2 ** (attempt - 1))
                log.info(
                    "%s %s transient failure (%s); retry %d in %.1fs",
                    venue,
                    action.kind,
                    exc.code,
                    attempt,
                    wait,
                )
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    # -- confirmation ---------------------------------------------------------------------

    async def _confirm(self, venue: str, outcomes: list[r.Outcome], deadline: float) -> bool:
        """Resolve outcomes from the canonical state; True if some stayed pending."""
        loop = asyncio.get_running_loop()
        grace_until = min(loop.time() + ERROR_GRACE_S, deadline)
        while True:
            for outcome in outcomes:
                if not outcome.resolved:
                    state = self.view.get(venue, outcome.order_id, outcome.account)
                    if state is not None:
                        _resolve(outcome, state, self.clock())
            pending = [o for o in outcomes if not o.resolved]
            now = loop.time()
            if now >= grace_until:
                for outcome in pending:
                    if outcome.expect is r.Expect.ERROR:
                        outcome.outcome = r.FAILED
                    elif outcome.expect is r.Expect.EXTRA:
                        outcome.outcome = r.CANCELED
                        outcome.add_note("unconfirmed")
                pending = [o for o in outcomes if not o.resolved]
            if not pending:
                return False
            if now >= deadline:
                for outcome in pending:
                    outcome.add_note("not confirmed by the canonical state before the timeout")
                return True
            await self.view.changed(timeout=max(0.01, min(0.5, deadline - now)))


def _resolve(outcome: r.Outcome, state: OrderState, now: int) -> None:
    """Settle `outcome` if `state` shows what became of the request."""
    if outcome.expect is r.Expect.NONE:
        return
    done = state.status.is_terminal
    reduced = (
        outcome.expect is r.Expect.REDUCE
        and outcome.base_qty is not None
        and (state.qty < outcome.base_qty or state.canceled_qty > outcome.base_canceled)
    )
    if not done and not reduced:
        return
    outcome.filled_qty = state.filled_qty
    outcome.remaining_qty = state.remaining_qty
    if outcome.sent_at is not None:
        outcome.latency_ms = max(0, now - outcome.sent_at)
    if state.status is OrderStatus.CANCELED or reduced:
        removed = state.canceled_qty - outcome.base_canceled
        if outcome.base_qty is not None and state.qty < outcome.base_qty:
            removed += outcome.base_qty - state.qty
        outcome.canceled_qty = removed
        if outcome.expect is r.Expect.REDUCE and not done:
            outcome.outcome = r.PARTIALLY_CANCELED
        elif outcome.expect is r.Expect.REPLACE and outcome.new_order_id:
            outcome.outcome = r.REPLACED
            outcome.canceled_qty = min(removed, outcome.requested_qty or removed)
        else:
            outcome.outcome = r.CANCELED
        if state.cancel_reason and state.cancel_reason != "user":
            outcome.add_note(f"cancel reason: {state.cancel_reason}")
    else:
        outcome.outcome = r.ALREADY_TERMINAL
        outcome.canceled_qty = state.canceled_qty - outcome.base_canceled
        outcome.add_note(r.TERMINAL_NOTES.get(state.status, f"order is {state.status.value}"))
    if outcome.filled_qty is not None and outcome.filled_qty > 0:
        outcome.add_note(f"filled {format(outcome.filled_qty.normalize(), 'f')} in total")


def _anonymous_id(raw: Any) -> str:
    try:
        body = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError too (an integer beyond 64 bits)
        body = repr(raw).encode()
    return "invalid-" + hashlib.sha256(body).hexdigest()[:16]
