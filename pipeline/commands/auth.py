"""Who may cancel what: command signatures, the issuer allow-list and replay protection.

A command is signed by its issuer: `signature` = hex HMAC-SHA256 over `canonical_bytes`
(every field but `signature`, keys sorted, compact JSON) with the issuer's key. Keys come from
the environment, `PIPELINE_COMMAND_KEY_<ISSUER>` (issuer upper-cased, every character that
is not a letter or digit replaced by `_`), or from a keys file `{"issuer": "key"}`; they never
appear in a repr, a log line or a result.

The allow-list (`Grant`s) names, per issuer, the venues and accounts it may cancel on; a
command without `account` (every account) needs a grant for all accounts of the venue.
Replays: `issued_at` older than `max_age_ms` (or further than `max_skew_ms` in the future)
is refused, and a `command_id` seen before with different content is refused (the same
content is a redelivery: the executor answers it with the stored result).

Authentication comes first and says one thing: a command that is unsigned, signed by an
issuer with no key, or signed wrongly is rejected as `not authenticated`, whichever it was,
and in the same time (an HMAC is computed with a stand-in key when the issuer has none), so
that nobody without a key learns which issuers have one, which accounts exist or which
command ids were used. Why it failed exactly (`CommandRejected.detail`) goes to the
operator's log only. Only an authenticated command gets the precise reasons of the
allow-list, freshness and account checks.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.commands.model import CancelCommand, CommandRejected, canonical_bytes

ENV_KEY_PREFIX = "PIPELINE_COMMAND_KEY_"
ALL = "*"
#: The one reason every authentication failure is published with.
UNAUTHENTICATED = "not authenticated"
_STAND_IN_KEY = "no key: an HMAC is computed all the same, so failures take the same time"


def key_env_name(issuer: str) -> str:
    return ENV_KEY_PREFIX + re.sub(r"[^A-Z0-9]", "_", issuer.upper())


def command_signature(command: Mapping[str, Any], key: str) -> str:
    return hmac.new(key.encode(), canonical_bytes(command), hashlib.sha256).hexdigest()


def sign_command(command: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A copy of `command` with its `signature` (any previous one replaced)."""
    signed = {k: v for k, v in command.items() if k != "signature"}
    signed["signature"] = command_signature(signed, key)
    return signed


@dataclass(frozen=True, slots=True)
class Grant:
    """`issuer` may cancel on `venue` (or every venue: "*") for `accounts` ("*": all)."""

    issuer: str
    venue: str = ALL
    accounts: tuple[str, ...] = (ALL,)

    def covers(self, venue: str, account: str | None) -> bool:
        if self.venue not in (ALL, venue):
            return False
        if ALL in self.accounts:
            return True
        return account is not None and account in self.accounts


@dataclass(frozen=True)
class KeyRing:
    """Issuer keys: the environment first, then a keys file's mapping. Never shown."""

    env: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False)
    file_keys: Mapping[str, str] = field(default_factory=dict, repr=False)

    def key(self, issuer: str) -> str | None:
        return self.env.get(key_env_name(issuer)) or self.file_keys.get(issuer) or None

    def __repr__(self) -> str:
        return f"KeyRing(file issuers={sorted(self.file_keys)}, keys=***)"


class Authenticator:
    """Checks signature, grant and freshness of parsed commands (time passed in)."""

    def __init__(
        self,
        keys: KeyRing,
        grants: Sequence[Grant],
        max_age_ms: int = 300_000,
        max_skew_ms: int = 30_000,
    ) -> None:
        self.keys = keys
        self.grants = tuple(grants)
        self.max_age_ms = max_age_ms
        self.max_skew_ms = max_skew_ms

    def check(self, raw: Mapping[str, Any], command: CancelCommand, now_ms: int) -> None:
        """Raise `CommandRejected` unless `command` (decoded as `raw`) may run now."""
        self.authenticate(raw, command)
        self.authorize(command, now_ms)

    def authenticate(self, raw: Mapping[str, Any], command: CancelCommand) -> None:
        """Raise `CommandRejected(UNAUTHENTICATED)` unless `raw` carries the signature of
        its issuer's key; the exact cause is in the exception's `detail` only."""
        key = self.keys.key(command.issued_by)
        expected = command_signature(raw, key or _STAND_IN_KEY).encode()
        given = (command.signature or "").lower().encode("utf-8", "replace")
        matches = hmac.compare_digest(expected, given)
        if not command.signature:
            detail = "unsigned command"
        elif key is None:
            detail = f"no key for issuer {command.issued_by!r}"
        elif not matches:
            detail = "bad signature"
        else:
            return
        raise CommandRejected(UNAUTHENTICATED, command.command_id, detail=detail)

    def authorize(self, command: CancelCommand, now_ms: int) -> None:
        """Raise `CommandRejected` unless the authenticated `command`'s issuer may cancel in
        its scope and it is fresh."""
        cid = command.command_id
        if not any(
            g.issuer == command.issued_by and g.covers(command.venue, command.account)
            for g in self.grants
        ):
            scope = command.account or "all accounts"
            raise CommandRejected(
                f"issuer {command.issued_by!r} is not allowed to cancel on "
                f"{command.venue} ({scope})",
                cid,
            )
        age = now_ms - command.issued_at
        if age > self.max_age_ms:
            raise CommandRejected(
                f"stale command: issued {age // 1000} s ago (window {self.max_age_ms // 1000} s)",
                cid,
            )
        if -age > self.max_skew_ms:
            raise CommandRejected("issued_at is in the future beyond the allowed skew", cid)


def parse_grants(entries: Sequence[Mapping[str, Any]]) -> list[Grant]:
    """`[{"issuer", "venue"?, "accounts"?}]` -> grants (a config file's `allow` list)."""
    grants = []
    for entry in entries:
        issuer = entry.get("issuer")
        if not isinstance(issuer, str) or not issuer:
            raise ValueError(f"an allow entry needs an issuer: {dict(entry)}")
        accounts = entry.get("accounts", [ALL])
        if isinstance(accounts, str):
            accounts = [accounts]
        grants.append(Grant(issuer, str(entry.get("venue", ALL)), tuple(map(str, accounts))))
    return grants
