"""The pipeline's roles and how a run drains and reports: the heart of `pipeline run`.

Roles: `sim` (the exchange simulator, embedded default only), `ingest` (venue ingestors ->
raw topics), `process` (raw topics -> canonical outputs), `sink` (outputs -> ClickHouse).
A run stops in stages so that its last words are true: on Ctrl-C, SIGTERM or `--duration`
the simulator's flow stops and its pending cancels complete, the pipeline is given time to
carry every venue message through to the store, then every role stops, and the tables are
compared with the simulator's ground truth ("orders 1832/1832 match, positions 40/40 match").

A broker that stops answering (paused, restarting, partitioned away) for longer than the
clients' timeouts makes produce, commit or fetch calls fail. Each Kafka-facing role then
restarts, as a process supervisor would restart it (`supervised`): with backoff, for as long
as the outage lasts, with a new worker that carries the old one's counters. A restarted
process worker recovers its partitions from their checkpoints and the committed offsets, the
path every crash takes, so a restart is exact (outputs are idempotent); the sink resumes at
its committed offsets with the same insert tokens. The restarts are counted per role and shown
in the status line and the live view.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from aiokafka.errors import KafkaError

from pipeline.config import Settings
from pipeline.errors import CheckpointError, ConfigError, StoreError
from pipeline.sink.store import Store

if TYPE_CHECKING:  # the roles import their workers when they start, not at import time
    from pipeline.commands.config import CancelConfig
    from pipeline.grouplag import GroupLag
    from pipeline.ingest import IngestStats
    from pipeline.ingest.config import IngestConfig
    from pipeline.metrics import PipelineMetrics
    from pipeline.sim.server import Simulator
    from pipeline.streams.process_worker import ProcessWorker
    from pipeline.streams.sink_worker import SinkWorker

log = logging.getLogger(__name__)

RoleRun = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
#: Errors that say the broker cannot be reached or does not answer in time: the role restarts.
BROKER_ERRORS: tuple[type[BaseException], ...] = (KafkaError, ConnectionError, TimeoutError)
RESTART_BACKOFF_S = (1.0, 30.0)  # first wait, longest wait


@dataclass
class RunContext:
    """What every role of a running pipeline gets."""

    settings: Settings
    bootstrap: str
    store: Store | None
    out: TextIO
    status_every: float = 5.0
    sim_rate: float | None = None  # run the simulator at this many flow actions per second
    sim_seed: int = 1
    sim_faults: str | None = None  # e.g. "duplicate=0.05,reorder=0.05" (pipeline sim's form)
    ingest_config: IngestConfig | None = None  # None with a simulator: ingest from it
    cancel_config: CancelConfig | None = None  # None with a simulator: cancel on it
    command_keys: Path | None = None  # the local operator's key file (embedded runs)
    metrics: PipelineMetrics | None = None  # when /metrics is served
    endpoints: tuple[str, ...] = ()  # broker, store, endpoint, metrics: the live view's header


@dataclass
class Roles:
    """The role objects of one run, their coroutines, the drain and the final report."""

    ctx: RunContext
    names: tuple[str, ...]
    process: ProcessWorker | None = None
    sink: SinkWorker | None = None
    simulator: Simulator | None = None
    truth_ok: bool | None = None  # after `truth_summary()`: did the tables match the truth
    ingest_stats: IngestStats | None = None
    sim_ready: asyncio.Event = field(default_factory=asyncio.Event)
    ingest_resume: dict[str, int] | None = None  # venue -> ms (see `_ingest_resume`)
    ingest_live: dict[tuple[str, str], dict[str, str]] | None = None  # (venue, account) -> ...
    draining: bool = False
    restarts: dict[str, int] = field(default_factory=dict)  # role -> restarts after broker errors
    last_error: dict[str, str] = field(default_factory=dict)  # role -> the last such error
    _runs: dict[str, int] = field(default_factory=dict)  # role -> times its worker was run
    lag_probe: GroupLag | None = None  # while the roles run
    process_lag: int | None = None  # the process group's lag on raw.*, at the last look
    sink_lag: int | None = None  # the sink group's lag on the output topics

    def runs(self) -> list[tuple[str, RoleRun]]:
        """(name, run(stop)) for every role of this run, the simulator first."""

        ctx = self.ctx
        if ctx.metrics is not None:
            ctx.metrics.watch(self)
        # read before the process role starts marking this run's progress
        self.ingest_resume = self._ingest_resume()
        self.ingest_live = self._ingest_live() if self.ingest_resume else None
        out: list[tuple[str, RoleRun]] = []
        if "sim" in self.names:
            out.append(("sim", self._run_simulator))
        if "ingest" in self.names:
            out.append(("ingest", self._run_ingest))
        if "cancel" in self.names:
            out.append(("cancel", self._run_cancel))
        if "process" in self.names:
            self._new_process()
            out.append(("process", lambda stop: self._for_run("process").run(stop)))
        if "sink" in self.names:
            if ctx.store is None:
                raise ConfigError("--role", "sink", "the sink role needs the store")
            self._new_sink()
            out.append(("sink", lambda stop: self._for_run("sink").run(stop)))
        return out

    def _for_run(self, name: str) -> Any:
        """The worker of role `name` to run now: the one made with the roles for the first
        run, a new one (with the same counters) for every restart."""
        self._runs[name] = self._runs.get(name, 0) + 1
        if self._runs[name] == 1:
            return self.process if name == "process" else self.sink
        return self._new_process() if name == "process" else self._new_sink()

    def _new_process(self) -> Any:
        """A process worker for a (re)start; it carries the previous one's counters."""
        from pipeline.streams.checkpoint import open_checkpoints
        from pipeline.streams.process_worker import ProcessWorker

        ctx = self.ctx
        previous = self.process
        worker = ProcessWorker(
            ctx.bootstrap, ctx.settings, ctx.settings.processing, metrics=ctx.metrics,
            checkpoints=open_checkpoints(ctx.settings, ctx.bootstrap),
            checkpoint_interval_s=ctx.settings.checkpoint_interval_s,
            checkpoint_records=ctx.settings.checkpoint_records,
            # the embedded broker's memory dies with us: checkpoint only what is stored
            sink_group=None if ctx.settings.kafka_bootstrap else "pipeline-sink",
        )  # fmt: skip
        if previous is not None:
            worker.stats = previous.stats
            worker.stats.assigned.clear()
        self.process = worker
        return worker

    def _new_sink(self) -> Any:
        """A sink worker for a (re)start; it carries the previous one's counters."""
        from pipeline.streams.sink_worker import SinkWorker

        ctx = self.ctx
        previous = self.sink
        assert ctx.store is not None
        worker = SinkWorker(ctx.bootstrap, ctx.settings, ctx.store, metrics=ctx.metrics)
        if previous is not None:
            worker.stats = previous.stats
        self.sink = worker
        return worker

    async def supervised(self, name: str, run: RoleRun, stop: asyncio.Event) -> None:
        """Run a role; when the broker fails it (`BROKER_ERRORS`), run it again after a
        backoff, for as long as it takes, until `stop`. Any other error ends the run."""
        delay = RESTART_BACKOFF_S[0]
        while True:
            try:
                await run(stop)
                return
            except BROKER_ERRORS as exc:
                error: BaseException = exc
            except asyncio.CancelledError as exc:
                task = asyncio.current_task()
                if task is None or task.cancelling():
                    raise  # this role is being cancelled: not an error
                # aiokafka lets an internal cancellation escape from a client's stop() after
                # a request timed out; nobody cancelled the role: the broker failed it
                error = exc
            if stop.is_set():
                log.warning("%s role stopped on a broker error: %r", name, error)
                return
            self.restarts[name] = self.restarts.get(name, 0) + 1
            self.last_error[name] = f"{type(error).__name__}: {error}"[:200]
            log.warning(
                "%s role: broker error (%s); restart %d in %.0f s",
                name, self.last_error[name], self.restarts[name], delay,
            )  # fmt: skip
            print(
                f"{name} role: broker unavailable ({type(error).__name__}); restarting in "
                f"{delay:.0f} s (restart {self.restarts[name]})",
                file=self.ctx.out, flush=True,
            )  # fmt: skip
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, RESTART_BACKOFF_S[1])

    async def _run_simulator(self, stop: asyncio.Event) -> None:
        from pipeline.sim.server import Simulator
        from pipeline.simwiring import simulator_config

        ctx = self.ctx
        config = simulator_config(ctx.sim_seed, ctx.sim_rate, ctx.sim_faults, ctx.settings.data_dir)
        self.simulator = Simulator(config)
        await self.simulator.start(flow=False)  # the ingest role resumes it once connected
        try:
            if self.simulator.opened is not None:
                print(f"simulator: {self.simulator.opened.describe()} "
                      f"({config.state_dir})", file=self.ctx.out, flush=True)  # fmt: skip
            urls = ", ".join(
                f"{venue} {' '.join(e.values())}" for venue, e in self.simulator.endpoints().items()
            )
            print(f"simulator: {urls}", file=self.ctx.out, flush=True)
            if self.simulator.control_url:
                print(f"simulator control: {self.simulator.control_url}", file=self.ctx.out,
                      flush=True)  # fmt: skip
            self.sim_ready.set()
            await stop.wait()
        finally:
            await self.simulator.stop()

    async def _run_ingest(self, stop: asyncio.Event) -> None:
        from pipeline.ingest import IngestStats, run_ingestors
        from pipeline.simwiring import ingest_config

        self.ingest_stats = stats = IngestStats()
        config = self.ctx.ingest_config
        if config is None:
            await self.sim_ready.wait()
            config = ingest_config(self.simulator)
        spool = await self._open_spool()
        resume, live = self.ingest_resume, self.ingest_live
        if self.ctx.settings.kafka_bootstrap:
            # a cluster keeps what was published: pick up after what the pipeline holds
            # (every start, the supervised restarts too: the publisher's queue died with it)
            from pipeline.ingest.resume import read_resume_points

            resume, live = await read_resume_points(self.ctx.bootstrap)
            log.info("ingest resumes from %s, %d live orders known",
                     resume, sum(len(orders) for orders in live.values()))  # fmt: skip
        task = asyncio.create_task(
            run_ingestors(
                config,
                self.ctx.bootstrap,
                stop,
                stats,
                resume_from=resume,
                live_orders=live,
                spool=spool,
            )
        )
        pruner = asyncio.create_task(self._prune_spool(spool, stop)) if spool else None
        try:
            await self._resume_flow_when_connected(task, config, stats)
            await task
        finally:
            if pruner is not None:
                pruner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pruner
            if spool is not None:
                spool.close()

    async def _resume_flow_when_connected(self, task: Any, config: Any, stats: Any) -> None:
        if self.simulator is not None and self.ctx.sim_rate:
            # Orders that live and die before an ingestor subscribes would be invisible to it
            # (venues offer snapshots of open orders only): start the flow once all are in.
            while stats.total("connects") < len(config.accounts) and not task.done():
                await asyncio.sleep(0.1)
            if not self.draining:  # a stop may have come while the ingestors connected
                self.simulator.resume_flow()

    def _covered(self) -> dict[str, int] | None:
        """Raw topic -> the time before which every raw record is in a checkpoint; None
        unless on the embedded broker with file checkpoints (it keeps nothing across a
        restart: what no checkpoint covers must come from the spool or the venues)."""
        settings = self.ctx.settings
        if settings.kafka_bootstrap or settings.checkpoint_store != "file":
            return None
        from pipeline.kafka import RAW_TOPICS
        from pipeline.streams.checkpoint import FileCheckpoints

        return FileCheckpoints(settings.checkpoint_dir).covered_until(
            "pipeline-processor", RAW_TOPICS
        )

    def _ingest_resume(self) -> dict[str, int] | None:
        """Venue -> the time from which raw messages may be in no checkpoint: the ingestors'
        gap recovery fetches from there."""
        covered = self._covered()
        if covered is None:
            return None
        return {topic.removeprefix("raw."): ms for topic, ms in covered.items()}

    async def _open_spool(self) -> Any:
        """The embedded stack's raw spool (pipeline/ingest/spool.py), after publishing into
        the new broker what it holds that no checkpoint covers; None elsewhere."""
        covered = self._covered()
        if covered is None:
            return None
        from pipeline.ingest.spool import RawSpool, republish
        from pipeline.kafka import RAW_TOPICS

        spool = RawSpool(self.ctx.settings.data_dir / "raw-spool")
        counts = await republish(spool, self.ctx.bootstrap, covered, RAW_TOPICS)
        if counts:
            shown = ", ".join(f"{topic} {n}" for topic, n in sorted(counts.items()))
            print(f"raw spool: published again what no checkpoint covers: {shown}",
                  file=self.ctx.out, flush=True)  # fmt: skip
        return spool

    async def _prune_spool(self, spool: Any, stop: asyncio.Event) -> None:
        """Every 10 s: drop the spool segments the checkpoints cover."""
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=10.0)
            covered = self._covered() or {}
            removed = await asyncio.to_thread(spool.prune, covered)
            if removed:
                log.debug("raw spool: %d segment(s) covered by checkpoints removed", removed)

    def _ingest_live(self) -> dict[tuple[str, str], dict[str, str]]:
        """(venue, account) -> the orders the checkpoints believe live (id -> venue symbol):
        with `_ingest_resume`, the ingestors ask the venue about each one that is no longer
        open, so an end that happened in records no checkpoint holds is heard again."""
        from pipeline.kafka import RAW_TOPICS
        from pipeline.streams.checkpoint import FileCheckpoints
        from pipeline.streams.state import live_orders

        store = FileCheckpoints(self.ctx.settings.checkpoint_dir)
        checkpoints = store.latest("pipeline-processor", RAW_TOPICS)
        try:
            return live_orders([c.body for c in checkpoints], self.ctx.settings.processing)
        except CheckpointError as exc:  # the worker refuses and rebuilds it, and says so
            log.warning("live orders of the checkpoints not read: %s", exc)
            return {}

    async def _run_cancel(self, stop: asyncio.Event) -> None:
        from pipeline.commands.worker import run_cancel_worker
        from pipeline.simwiring import cancel_config

        config = self.ctx.cancel_config
        if config is None:
            await self.sim_ready.wait()
            assert self.ctx.command_keys is not None
            assert self.simulator is not None
            venues = tuple(self.simulator.endpoints())
            config = cancel_config(self.simulator, self.ctx.command_keys, venues)
        metrics = self.ctx.metrics.cancel if self.ctx.metrics is not None else None
        await run_cancel_worker(
            self.ctx.bootstrap, self.ctx.settings, config, stop, store=self.ctx.store,
            metrics=metrics,
        )  # fmt: skip

    def status_line(self) -> str:
        """The run's closing summary: the pipeline on one line, then one line per venue."""
        parts = []
        if self.process is not None:
            p = self.process.stats
            parts.append(
                f"raw in {p.records}, events {p.normalized}, duplicates {p.duplicates}, "
                f"late {p.late}, dead letters {p.dead_letters}, buffered {p.reorder_depth}"
            )
        if self.sink is not None:
            s = self.sink.stats
            parts.append(f"rows written {s.rows_written}, store errors {s.errors}")
        if self.restarts:
            done = ", ".join(f"{name} {n}" for name, n in sorted(self.restarts.items()))
            parts.append(f"restarts after broker errors: {done}")
        lines = ["; ".join(parts)] if parts else []
        if self.ingest_stats is not None:
            for name, v in sorted(self.ingest_stats.venues.items()):
                lines.append(
                    f"  ingest {name}: published {v.published}, reconnects {v.reconnects}, "
                    f"snapshots {v.snapshots}, dead letters {v.dead_letters}, produce retries "
                    f"{v.produce_retries}"
                )
        return "\n".join(lines)

    async def report(self, stop: asyncio.Event) -> None:
        """The live view every `status_every` seconds (redrawn in place on a terminal)."""
        from pipeline.liveview import CLEAR, Rates, StoreCounts, render

        rates = Rates()
        tty = self.ctx.out.isatty()
        baseline = None
        if self.ctx.store is not None:
            with contextlib.suppress(StoreError):  # the view then shows the totals only
                baseline = await asyncio.to_thread(StoreCounts.of, self.ctx.store)
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.ctx.status_every)
            if stop.is_set():
                return
            await self.measure_lag()
            lines = await asyncio.to_thread(render, self, rates, self.ctx.store, baseline)
            text = "\n".join(lines)
            print((CLEAR + text) if tty else text, file=self.ctx.out, flush=True)

    async def measure_lag(self) -> None:
        """The process and sink groups' lag, from their committed offsets against the fetch
        high watermarks (every member's work counts, not only this process's)."""
        from pipeline.kafka import RAW_TOPICS

        if self.lag_probe is None:
            from pipeline.grouplag import GroupLag

            self.lag_probe = GroupLag(self.ctx.bootstrap)
        if self.process is not None:
            self.process_lag = await self.lag_probe.lag(self.process.group_id, RAW_TOPICS)
        if self.sink is not None:
            self.sink_lag = await self.lag_probe.lag(self.sink.group_id, self.sink.topics)

    async def close(self) -> None:
        if self.lag_probe is not None:
            await self.lag_probe.close()
            self.lag_probe = None

    def _caught_up(self, published: int | None) -> bool:
        """Nothing left for the groups (or, when the broker did not say, for this process)."""
        assert self.process is not None
        if self.process.stats.reorder_depth:
            return False  # events held for reordering are not in the outputs yet
        if self.process_lag is not None and (self.sink is None or self.sink_lag is not None):
            return self.process_lag == 0 and not self.sink_lag
        return (published is None or self.process.stats.records >= published) and (
            self.sink is None or self.sink.stats.records >= self.process.stats.messages_out
        )

    async def drain(self, timeout: float = 60.0) -> None:
        """Stop the venue flow and wait until everything it produced reached the store."""
        self.draining = True
        if self.simulator is not None:
            await self.simulator.pause_flow()
            self.simulator.settle()
            await self.simulator.quiesce()
        if self.process is None:
            return
        deadline = time.monotonic() + timeout
        stable_since, last = time.monotonic(), None
        while time.monotonic() < deadline:
            published = self.ingest_stats.total("published") if self.ingest_stats else None
            await self.measure_lag()
            snapshot = (published, self.process.stats.records, self.process.stats.messages_out,
                        self.sink.stats.records if self.sink else None, self.process_lag,
                        self.sink_lag)  # fmt: skip
            caught_up = self._caught_up(published)
            if snapshot != last:
                stable_since, last = time.monotonic(), snapshot
            elif caught_up and time.monotonic() - stable_since >= 2.0:
                return
            await asyncio.sleep(0.25)
        log.warning("the pipeline did not catch up within %.0fs of the stop", timeout)

    def truth_summary(self) -> str | None:
        """Compare the tables with the simulator's ground truth (embedded runs)."""
        if self.simulator is None or self.ctx.store is None:
            return None
        from pipeline.simwiring import truth_report

        self.truth_ok, text = truth_report(self.simulator, self.ctx.store)
        return text


async def run_roles(
    ctx: RunContext,
    names: tuple[str, ...],
    duration: float | None,
    requested: asyncio.Event,
) -> Roles:
    """Run `names` until `requested` is set (signal, duration), drain, stop; return them."""
    loop = asyncio.get_running_loop()
    roles = Roles(ctx, names)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(
            run(stop) if name == "sim" else roles.supervised(name, run, stop), name=name
        )
        for name, run in roles.runs()
    ]
    reporter = asyncio.create_task(roles.report(stop), name="status")
    if duration is not None:
        loop.call_later(duration, requested.set)
    waiter = asyncio.create_task(requested.wait())
    try:
        done, _ = await asyncio.wait([*tasks, waiter], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not waiter and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        print("stopping: draining the pipeline", file=ctx.out, flush=True)
        await roles.drain()
    finally:
        stop.set()
        for task in [*tasks, reporter]:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout=15)
            if not task.done():
                task.cancel()
        waiter.cancel()
        await roles.close()
    line = roles.status_line()
    if line:
        print(line, file=ctx.out, flush=True)
    return roles
