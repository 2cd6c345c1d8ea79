"""Files only their owner may read: the store endpoint's token, the local command key.

A secret is written to a new temporary file created with mode 0600 (whatever the umask) and
renamed over the target, so there is no moment at which a reader sees it with wider rights,
even when an older copy of the file was world-readable.
"""

from __future__ import annotations

import os
from pathlib import Path

SECRET_MODE = 0o600


def write_secret_file(path: Path, text: str) -> Path:
    """Atomically replace `path` with `text`, readable and writable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # left by a process with our pid that died mid-write
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_TRUNC, SECRET_MODE)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        os.chmod(tmp, SECRET_MODE)  # an odd umask cannot widen it, but make it certain
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
