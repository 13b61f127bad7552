"""The hub's errors, grouped by who is at fault, mapped to gRPC codes in one table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field: its path in the request or payload, and why."""

    field: str
    description: str


class EcxError(Exception):
    """Root of every error the hub raises on purpose; the message is safe to show the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# The caller's data is at fault.
class CallerError(EcxError):
    """The request itself is wrong: fixing it is the caller's job."""


class InvalidArgument(CallerError):
    """One or more fields are invalid; each is named."""

    def __init__(self, violations: Sequence[FieldViolation]) -> None:
        self.violations = tuple(violations)
        text = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(f"invalid argument: {text}")

    @classmethod
    def field(cls, field: str, description: str) -> InvalidArgument:
        """The common case of a single bad field."""
        return cls([FieldViolation(field, description)])


class BadSignature(InvalidArgument):
    """The envelope's signature does not verify over the payload bytes."""


class RequestIdReused(InvalidArgument):
    """A request_id already answered a different request from the same caller."""

    def __init__(self) -> None:
        super().__init__(
            [FieldViolation("request_id", "already used for a different request by this caller")]
        )


class ResourceExhausted(CallerError):
    """The caller asked for more than its share of the hub: too much at once, or too often.
    The same request may succeed later, or in smaller parts."""


# Authorization: who is calling, and whether they may.
class AuthorizationError(EcxError):
    """The caller is not who may do this."""


class Unauthenticated(AuthorizationError):
    """No acceptable identity: unknown, suspended or revoked certificate."""


class PermissionDenied(AuthorizationError):
    """A known caller asked for something the policy does not allow."""


# The state of the exchange does not allow it.
class StateError(EcxError):
    """The request is well-formed but conflicts with what the hub holds."""


class NotFound(StateError):
    """No such object, or none the caller may see."""


class AlreadyExists(StateError):
    """An object with that identifier exists already."""


class FailedPrecondition(StateError):
    """The object is not in a state that allows this change."""


# The hub itself.
class InfrastructureError(EcxError):
    """The hub could not do its part: storage, integrity or configuration."""


class StoreUnavailable(InfrastructureError):
    """The store refused or failed the operation; retrying with the same request_id is safe."""


class StoreDamaged(InfrastructureError):
    """What the store holds is not what its authors signed: the hub will not serve it as if it
    were. Operators find the first damaged record with `ecx-server verify-log`."""


class ConfigError(InfrastructureError):
    """The hub's configuration is unusable."""


class RevocationUnknown(InfrastructureError):
    """The hub cannot tell whether the caller's certificate is revoked (its CRL is out of date);
    the call may succeed once the operator has put a current CRL in place."""


STATUS_CODES: tuple[tuple[type[EcxError], grpc.StatusCode], ...] = (
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (StoreUnavailable, grpc.StatusCode.UNAVAILABLE),
    (StoreDamaged, grpc.StatusCode.DATA_LOSS),
    (RevocationUnknown, grpc.StatusCode.UNAVAILABLE),
    (ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (CallerError, grpc.StatusCode.INVALID_ARGUMENT),
    (AuthorizationError, grpc.StatusCode.PERMISSION_DENIED),
    (StateError, grpc.StatusCode.FAILED_PRECONDITION),
    (EcxError, grpc.StatusCode.INTERNAL),
)


def status_code(error: EcxError) -> grpc.StatusCode:
    """The gRPC code for an error: the first matching row of STATUS_CODES."""
    for kind, code in STATUS_CODES:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.INTERNAL
