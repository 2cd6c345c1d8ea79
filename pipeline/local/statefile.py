"""The stack state file: how other `pipeline` commands find a running embedded stack.

`pipeline run` (and `pipeline broker`) write `<data_dir>/stack.json` with the broker address,
the store path, the query endpoint of the store owner and their pid. Commands started while it
runs (`pipeline sql`, `pipeline topics`, `pipeline cancel`, ...) read it, so they need no
configuration. A file whose owner is gone is stale and ignored.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

STATE_FILE_NAME = "stack.json"


@dataclass(slots=True)
class StackState:
    """What a running embedded stack publishes about itself."""

    pid: int
    started_at: int  # epoch ms
    broker: str | None = None  # host:port of the embedded broker, if this process runs one
    broker_pid: int | None = None
    store_path: str | None = None  # chDB directory owned by `pid`, if any
    query_url: str | None = None  # http://127.0.0.1:port: the owner's ClickHouse endpoint
    query_token_file: str | None = None  # the endpoint's token (mode 0600)
    command_keys: str | None = None  # the local operator's command key file (embedded runs)
    store_pid: int | None = None  # the store's owner when it is not `pid` (a sink worker
    # beside `pipeline broker`: the broker's entries stay, the worker adds the store's)
    starting: bool = False  # written first: the owner is still opening broker and store
    roles: list[str] | None = None  # the roles `pid` runs (pipeline run)


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE_NAME


def write_state(data_dir: Path, state: StackState) -> Path:
    """Atomically write the state file (write to a temp file, then rename)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = state_path(data_dir)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(orjson.dumps(asdict(state), option=orjson.OPT_INDENT_2))
    tmp.replace(path)
    return path


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(data_dir: Path) -> StackState | None:
    """The state of a live stack, or None if there is none (missing, corrupt or stale file)."""
    path = state_path(data_dir)
    try:
        raw = orjson.loads(path.read_bytes())
        state = StackState(**raw)
    except (OSError, orjson.JSONDecodeError, TypeError):
        return None
    if not pid_alive(state.pid):
        return None
    return state


def await_ready(data_dir: Path, timeout: float = 60.0) -> StackState | None:
    """The live stack's state once it is ready; waits while its owner is still starting.

    A command started together with `pipeline run` must not open the embedded store itself
    in the meantime: chDB admits one process per store, and that would be the wrong one.
    """
    import time

    deadline = time.monotonic() + timeout
    state = read_state(data_dir)
    while state is not None and state.starting and time.monotonic() < deadline:
        time.sleep(0.2)
        state = read_state(data_dir)
    return state


def store_owner(state: StackState) -> int | None:
    """The live process that owns the store `state` names, or None."""
    if not state.store_path:
        return None
    owner = state.store_pid or state.pid
    return owner if pid_alive(owner) else None


def claim_store(data_dir: Path, store: StackState) -> None:
    """Publish this process as the store's owner, keeping a running broker's entries."""
    running = read_state(data_dir)
    if running is None or running.pid == store.pid:
        write_state(data_dir, store)
        return
    running.store_path, running.query_url = store.store_path, store.query_url
    running.query_token_file, running.store_pid = store.query_token_file, store.pid
    write_state(data_dir, running)


def release_store(data_dir: Path, pid: int) -> None:
    """Undo `claim_store`: drop the store's entries (or the whole file if it is ours)."""
    running = read_state(data_dir)
    if running is not None and running.store_pid == pid and running.pid != pid:
        running.store_path = running.query_url = running.query_token_file = None
        running.store_pid = None
        write_state(data_dir, running)
        return
    clear_state(data_dir, pid)


def clear_state(data_dir: Path, pid: int) -> None:
    """Remove the state file if it still belongs to `pid`."""
    path = state_path(data_dir)
    with contextlib.suppress(OSError, orjson.JSONDecodeError):
        if orjson.loads(path.read_bytes()).get("pid") == pid:
            path.unlink()
