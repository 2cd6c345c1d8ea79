"""Errors the pure domain raises when handed an input it must not fold.

    DomainError (ValueError)
     ├── ForeignEventError     an event or fill for another order / position was routed here
     └── InvalidQuantityError  a quantity is negative (or otherwise impossible)

The domain imports only the standard library, so these do not derive from
`pipeline.errors.PipelineError`; the stream processor translates them once, at its boundary,
into a dead letter (`BadInputError`) naming the event.
"""

from __future__ import annotations


class DomainError(ValueError):
    """An input violates a rule of the order or position model; nothing was changed."""


class ForeignEventError(DomainError):
    """An event or fill does not belong to the ledger it was applied to."""


class InvalidQuantityError(DomainError):
    """A quantity that must be non-negative is negative."""
