"""Errors the pure domain raises when handed an input it must not fold.

    PipelineError
     └── DomainError (also a ValueError)
          ├── ForeignEventError     an event or fill for another order / position was routed here
          └── InvalidQuantityError  a quantity is negative (or otherwise impossible)

Besides the standard library the domain imports only `pipeline.errors`, the root of the one
exception tree (itself standard-library only; tests/unit/domain/test_domain_imports.py). The
stream processor translates these once, at its boundary, into a dead letter naming the event.
"""

from __future__ import annotations

from pipeline.errors import PipelineError


class DomainError(PipelineError, ValueError):
    """An input violates a rule of the order or position model; nothing was changed."""


class ForeignEventError(DomainError):
    """An event or fill does not belong to the ledger it was applied to."""


class InvalidQuantityError(DomainError):
    """A quantity that must be non-negative is negative."""
