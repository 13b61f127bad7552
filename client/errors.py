"""Errors the client library raises; gRPC errors are translated here, once."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


class EcxClientError(Exception):
    """Root of the client's errors; str() is a one-line reason fit for a terminal."""


class RemoteError(EcxClientError):
    """The hub refused or failed a call."""

    def __init__(
        self, code: grpc.StatusCode, message: str, violations: list[tuple[str, str]]
    ) -> None:
        self.code = code
        self.message = message
        self.violations = violations
        super().__init__(f"{code.name}: {message}")

    @classmethod
    def from_rpc_error(cls, error: grpc.aio.AioRpcError) -> RemoteError:
        violations: list[tuple[str, str]] = []
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
        if status is not None:
            for detail in status.details:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    violations.extend((v.field, v.description) for v in bad.field_violations)
        return cls(error.code(), error.details() or "", violations)


class VerificationError(EcxClientError):
    """Something the hub returned does not verify."""


class NoEncryptionKey(EcxClientError):
    """A participant has no current encryption key to seal to."""


class IdentityError(EcxClientError):
    """The local identity directory is unusable."""
