"""The one exception tree of the pipeline.

    PipelineError
     ├── ConfigError            a setting has a value we cannot use (exit code 2)
     ├── StackError             the embedded broker or store could not be started or found
     ├── BadInputError          one input record cannot be used; it becomes a dead letter
     │    ├── EnvelopeError     the raw envelope itself is malformed
     │    └── NormalizationError a venue payload field is missing or has a wrong value
     ├── StoreError             ClickHouse rejected or could not take a write or query
     │    └── RejectedDataError rows the store refuses for their values (never retried)
     ├── CheckpointError        a processing checkpoint cannot be read or written
     ├── DomainError            the pure domain refuses an event (pipeline.domain.errors)
     ├── SessionError           an ingest session cannot go on (pipeline.ingest.base)
     ├── VenueError             a request to a venue failed (pipeline.venues.errors)
     │    ├── TransientError    worth retrying (timeout, transport, 429, 5xx)
     │    └── BusinessError     the venue refused it (unknown order, closed): never retried
     ├── CommandRejected        a cancel command is refused before anything is sent
     ├── SignatureError         a credential or signature does not verify (venues.credentials)
     ├── KeyMaterialError       our own signing key is unusable (also a ValueError)
     ├── QueryRefused           a query may not run through the read-only SQL endpoint
     └── SimulatedVenueError    the exchange simulator refuses a request or its state
          ├── EngineRejection   the matching engine refuses an order or cancel
          ├── ReplayError       a journal record does not replay (also a ValueError)
          └── UpbitError, BinanceError, CoinoneError, SsiError, GatewayError:
                                a simulated venue's error reply (status and body)

Classes below `CheckpointError` are defined next to the code that raises them; a test
(tests/unit/test_exception_tree.py) fails when a module of the package defines an
exception outside this tree.

Third-party exceptions are translated once, at the boundary that calls the library
(`raise StoreError(...) from exc`), so callers handle only these types. Messages name the
offending setting, field or value, and never contain a secret.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of every error the pipeline raises on purpose."""


class ConfigError(PipelineError):
    """A configuration value is missing, malformed or unusable.

    `setting` names the environment variable or flag, `value` is already masked.
    """

    def __init__(self, setting: str, value: object, reason: str) -> None:
        self.setting = setting
        self.value = value
        self.reason = reason
        super().__init__(f"{setting}={value!s}: {reason}")


class StackError(PipelineError):
    """The embedded stack (Tansu broker, chDB store) could not be started or reached."""


class BadInputError(PipelineError):
    """One input record cannot be processed. Carries a short machine-readable `reason`."""

    reason: str = "bad_input"


class EnvelopeError(BadInputError):
    """The raw envelope is not valid JSON or lacks a required envelope field."""

    reason = "bad_envelope"


class NormalizationError(BadInputError):
    """A venue payload cannot be turned into canonical events.

    Names the venue, the field (dotted path inside the payload) and the offending value, so
    that a dead letter tells an operator exactly what to look at.
    """

    reason = "bad_payload"

    def __init__(self, venue: str, field: str, value: object, problem: str) -> None:
        self.venue = venue
        self.field = field
        self.value = value
        shown = repr(value)
        if len(shown) > 120:
            shown = shown[:117] + "..."
        if len(problem) > 300:  # a venue's error text quoted in it is outside input too
            problem = problem[:297] + "..."
        self.problem = problem
        super().__init__(f"{venue}: field {field!r} = {shown}: {problem}")


class UnknownVenueError(BadInputError):
    """The envelope names a venue the pipeline has no normalizer for."""

    reason = "unknown_venue"


class StoreError(PipelineError):
    """A ClickHouse write or query failed."""


class RejectedDataError(StoreError):
    """The store refused rows for what they hold (a value out of range, unparsable).

    Retrying the same rows cannot succeed: the writer isolates the rows at fault and the
    sink dead-letters them (writer.py), where any other `StoreError` is retried."""


class CheckpointError(PipelineError):
    """A processing checkpoint is unreadable (corrupt, truncated, another format or version)
    or could not be written. Recovery then rebuilds the partition from its raw topic."""


class SimulatedVenueError(PipelineError):
    """The exchange simulator (pipeline.sim) refuses a request, as the venue it plays would,
    or cannot restore its kept state. Its subclasses carry the venue's status and body."""
