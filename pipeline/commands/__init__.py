"""Cancel commands: validation, authentication, planning per venue rules, execution.

Pure: `model` (CancelCommand, parse_command), `auth` (sign_command, Authenticator),
`capabilities`, `planner`, `results`, `state_view`. I/O: `clients/` (the only sockets),
`executor` (CancelExecutor), `worker` (run_cancel_worker), `cli` (`pipeline cancel`).
"""

from __future__ import annotations

from pipeline.commands.auth import Authenticator, Grant, KeyRing, sign_command
from pipeline.commands.model import CancelCommand, CommandRejected, Scope, parse_command
from pipeline.commands.state_view import StateView

__all__ = [
    "Authenticator",
    "CancelCommand",
    "CommandRejected",
    "Grant",
    "KeyRing",
    "Scope",
    "StateView",
    "parse_command",
    "sign_command",
]
