"""An account's keys (where they come from: the environment or a secrets file), and the
errors of signing: shared by every venue's `auth` module, by ingest and commands (which sign)
and by the simulator (which verifies).

Neutral ground on purpose: ingest and commands both need `Credentials`, and neither may
import the other; the venues' `auth` modules need it too, and may not import ingest.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import ConfigError, PipelineError

log = logging.getLogger(__name__)

MASK = "***"
#: The environment variable naming a secrets file (the simulator's `--secrets-out` format).
ENV_SECRETS_FILE = "PIPELINE_INGEST_SECRETS"


@dataclass(frozen=True, slots=True)
class Credentials:
    """One account's API key pair, plus what some venues need besides: SSI's RSA private key
    (PEM, signs writes) and PIN (its AccessToken `code`). No part appears in a repr or str."""

    api_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    private_key: str | None = field(default=None, repr=False)
    pin: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        extra = "".join(
            f", {name}={MASK}" for name in ("private_key", "pin") if getattr(self, name)
        )
        return f"Credentials(api_key={MASK}, secret_key={MASK}{extra})"

    __str__ = __repr__


def credential_env_names(venue: str, account: str) -> tuple[str, str]:
    """(`PIPELINE_<VENUE>_<ACCOUNT>_API_KEY`, `..._SECRET_KEY`), upper case, `_` for others."""
    stem = "_".join(re.sub(r"[^A-Z0-9]", "_", part.upper()) for part in (venue, account))
    return f"PIPELINE_{stem}_API_KEY", f"PIPELINE_{stem}_SECRET_KEY"


def extra_credential_env_names(venue: str, account: str) -> tuple[str, str]:
    """(`PIPELINE_<VENUE>_<ACCOUNT>_PRIVATE_KEY`, `..._PIN`): optional, SSI uses them."""
    stem = credential_env_names(venue, account)[0].removesuffix("_API_KEY")
    return f"{stem}_PRIVATE_KEY", f"{stem}_PIN"


def load_secrets_file(path: Path) -> dict[tuple[str, str], Credentials]:
    """(venue, account) -> keys from `{venue: [{account, api_key, secret_key, private_key?,
    pin?}]}` (`private_key`: SSI's RSA key as PEM; `pin`: its two-factor code)."""
    setting = f"secrets file {path}"
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError(ENV_SECRETS_FILE, str(path), "file not found") from exc
    except (OSError, ValueError) as exc:
        # never echo the content: it is secret
        raise ConfigError(ENV_SECRETS_FILE, str(path), "not a readable JSON file") from exc
    if os.name == "posix" and path.stat().st_mode & 0o077:
        log.warning("%s is readable by group or others; chmod 600 it", setting)
    if not isinstance(data, dict):
        raise ConfigError(ENV_SECRETS_FILE, str(path), "expected {venue: [{account, ...}]}")
    found: dict[tuple[str, str], Credentials] = {}
    for venue, entries in data.items():
        if not isinstance(entries, list):
            raise ConfigError(ENV_SECRETS_FILE, str(path), f"{venue!r}: expected a list")
        for number, entry in enumerate(entries):
            ok = isinstance(entry, dict) and all(
                isinstance(entry.get(k), str) and entry.get(k)
                for k in ("account", "api_key", "secret_key")
            )
            if not ok:
                raise ConfigError(
                    ENV_SECRETS_FILE,
                    str(path),
                    f"{venue}[{number}]: needs non-empty account, api_key and secret_key",
                )
            extras = {name: entry.get(name) for name in ("private_key", "pin")}
            for name, value in extras.items():
                if value is not None and not (isinstance(value, str) and value):
                    raise ConfigError(
                        ENV_SECRETS_FILE, str(path), f"{venue}[{number}]: {name} must be a "
                        "non-empty string when present"
                    )  # fmt: skip
            found[(venue, entry["account"])] = Credentials(
                entry["api_key"], entry["secret_key"], extras["private_key"], extras["pin"]
            )
    return found


class SignatureError(PipelineError):
    """A credential or signature did not verify; `reason` names why (for the venue's error)."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"{reason}: {message}")


class KeyMaterialError(PipelineError, ValueError):
    """Our own signing key is unusable (not a readable PEM, not RSA): a configuration
    problem on the signing side, never a venue's verdict. The message never shows the key."""
