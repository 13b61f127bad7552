"""The async client library: one mTLS channel to the hub, typed calls, verified results."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import grpc
from cryptography import x509

from client.envelope import (
    DENIAL_CHANGE_PAYLOAD_TYPE,
    DENIAL_PAYLOAD_TYPE,
    EnvelopeError,
    VerifyingKey,
    key_id,
    sign,
    verify_envelope,
    verifying_key_of,
)
from client.errors import RemoteError, VerificationError
from client.identity import Identity
from ecx.v1 import denial_pb2, denial_pb2_grpc, participant_pb2, participant_pb2_grpc

T = TypeVar("T")
DEFAULT_SERVER = "127.0.0.1:50051"


def new_request_id() -> str:
    """A fresh request id; reuse it only to retry the same request."""
    return uuid.uuid4().hex


class EcxClient:
    """`async with EcxClient(server, identity) as ecx:` — calls to the hub as that identity."""

    def __init__(self, server: str, identity: Identity, *, timeout: float = 30.0) -> None:
        self.server = server
        self.identity = identity
        self.timeout = timeout
        self._channel: grpc.aio.Channel | None = None
        self._participants: Any = None
        self._denials: Any = None
        self._keys: dict[str, tuple[str, VerifyingKey]] | None = None
        self._states: dict[str, str] = {}

    async def __aenter__(self) -> EcxClient:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=self.identity.ca_pem,
            private_key=self.identity.key_pem,
            certificate_chain=self.identity.cert_pem,
        )
        self._channel = grpc.aio.secure_channel(
            self.server,
            credentials,
            options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        self._participants = participant_pb2_grpc.ParticipantServiceStub(self._channel)
        self._denials = denial_pb2_grpc.DenialServiceStub(self._channel)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    async def _call(self, call: Callable[..., Awaitable[T]], request: object) -> T:
        try:
            return await call(request, timeout=self.timeout)
        except grpc.aio.AioRpcError as e:
            raise RemoteError.from_rpc_error(e) from e

    # Participants

    async def whoami(self) -> participant_pb2.Participant:
        response: participant_pb2.WhoAmIResponse = await self._call(
            self._participants.WhoAmI, participant_pb2.WhoAmIRequest()
        )
        return response.participant

    async def participants(self) -> list[participant_pb2.Participant]:
        response: participant_pb2.ListParticipantsResponse = await self._call(
            self._participants.ListParticipants, participant_pb2.ListParticipantsRequest()
        )
        return list(response.participants)

    async def signing_keys(self) -> Mapping[str, tuple[str, VerifyingKey]]:
        """Published signing keys by key id, to re-verify what other participants signed."""
        if self._keys is None:
            keys: dict[str, tuple[str, VerifyingKey]] = {}
            for p in await self.participants():
                if p.signing_certificate:
                    cert = x509.load_pem_x509_certificate(p.signing_certificate.encode())
                    try:
                        key = verifying_key_of(cert)
                    except EnvelopeError:
                        continue
                    keys[key_id(key)] = (p.id, key)
                self._states[p.id] = p.member_state
            self._keys = keys
        return self._keys

    # Denials

    async def submit_denial(
        self, payload: denial_pb2.DenialPayload, *, request_id: str | None = None
    ) -> denial_pb2.Denial:
        envelope = sign(
            payload.SerializeToString(deterministic=True),
            DENIAL_PAYLOAD_TYPE,
            self.identity.require_signing_key(),
        )
        request = denial_pb2.SubmitDenialRequest(
            request_id=request_id or new_request_id(), envelope=envelope
        )
        response: denial_pb2.DenialResponse = await self._call(self._denials.SubmitDenial, request)
        return response.denial

    async def amend_denial(
        self, reference: str, payload: denial_pb2.DenialPayload, *, request_id: str | None = None
    ) -> denial_pb2.Denial:
        envelope = sign(
            payload.SerializeToString(deterministic=True),
            DENIAL_PAYLOAD_TYPE,
            self.identity.require_signing_key(),
        )
        request = denial_pb2.AmendDenialRequest(
            request_id=request_id or new_request_id(), reference=reference, envelope=envelope
        )
        response: denial_pb2.DenialResponse = await self._call(self._denials.AmendDenial, request)
        return response.denial

    def _status_change(
        self, reference: str, change: int, reason: str, effective: dt.date | None
    ) -> Any:
        statement = denial_pb2.DenialStatusChange(
            reference=reference,
            change=change,  # type: ignore[arg-type]
            reason=reason,
            effective_date=(effective or dt.datetime.now(dt.UTC).date()).isoformat(),
        )
        return sign(
            statement.SerializeToString(deterministic=True),
            DENIAL_CHANGE_PAYLOAD_TYPE,
            self.identity.require_signing_key(),
        )

    async def revoke_denial(
        self,
        reference: str,
        reason: str,
        *,
        effective: dt.date | None = None,
        request_id: str | None = None,
    ) -> denial_pb2.Denial:
        request = denial_pb2.RevokeDenialRequest(
            request_id=request_id or new_request_id(),
            reference=reference,
            envelope=self._status_change(reference, denial_pb2.REVOKE, reason, effective),
        )
        response: denial_pb2.DenialResponse = await self._call(self._denials.RevokeDenial, request)
        return response.denial

    async def renew_denial(
        self,
        reference: str,
        *,
        reason: str = "",
        effective: dt.date | None = None,
        request_id: str | None = None,
    ) -> denial_pb2.Denial:
        request = denial_pb2.RenewDenialRequest(
            request_id=request_id or new_request_id(),
            reference=reference,
            envelope=self._status_change(reference, denial_pb2.RENEW, reason, effective),
        )
        response: denial_pb2.DenialResponse = await self._call(self._denials.RenewDenial, request)
        return response.denial

    async def get_denial(
        self, reference: str, *, versions: bool = False
    ) -> denial_pb2.GetDenialResponse:
        request = denial_pb2.GetDenialRequest(reference=reference, include_versions=versions)
        response: denial_pb2.GetDenialResponse = await self._call(self._denials.GetDenial, request)
        return response

    async def list_denials(
        self,
        *,
        issuing_state: str = "",
        destination_country: str = "",
        regime: int = 0,
        status: int = 0,
        page_size: int = 0,
    ) -> AsyncIterator[denial_pb2.Denial]:
        """Every matching denial, following page tokens."""
        token = ""
        while True:
            request = denial_pb2.ListDenialsRequest(
                issuing_state=issuing_state,
                destination_country=destination_country,
                regime=regime,  # type: ignore[arg-type]
                status=status,  # type: ignore[arg-type]
                page_size=page_size,
                page_token=token,
            )
            response: denial_pb2.ListDenialsResponse = await self._call(
                self._denials.ListDenials, request
            )
            for denial in response.denials:
                yield denial
            token = response.next_page_token
            if not token:
                return

    async def sync_denials(
        self, cursor: str = "", *, batch_size: int = 0
    ) -> AsyncIterator[denial_pb2.SyncDenialsResponse]:
        """Batches of changes after `cursor`, in order; each carries the cursor to resume at."""
        call = self._denials.SyncDenials(
            denial_pb2.SyncDenialsRequest(cursor=cursor, batch_size=batch_size)
        )
        try:
            async for response in call:
                yield response
        except grpc.aio.AioRpcError as e:
            raise RemoteError.from_rpc_error(e) from e

    async def verify_denial(self, denial: denial_pb2.Denial) -> denial_pb2.DenialPayload:
        """Re-verify the issuer's signature over the payload bytes; return the decoded payload.

        Raises VerificationError if the signature fails or the signer is not the issuing state's
        authority that the hub names.
        """
        keys = await self.signing_keys()
        try:
            verified = verify_envelope(denial.envelope, DENIAL_PAYLOAD_TYPE, keys)
            if denial.HasField("change_envelope"):
                change = verify_envelope(denial.change_envelope, DENIAL_CHANGE_PAYLOAD_TYPE, keys)
                if change.signer != verified.signer:
                    raise VerificationError(
                        f"{denial.reference}: status change signed by {change.signer}"
                    )
        except EnvelopeError as e:
            raise VerificationError(f"{denial.reference}: {e}") from e
        payload = denial_pb2.DenialPayload.FromString(verified.payload)
        if payload.reference != denial.reference:
            raise VerificationError(f"{denial.reference}: signed payload names {payload.reference}")
        if self._states.get(verified.signer) != _iso(payload.issuing_state):
            raise VerificationError(
                f"{denial.reference}: signer {verified.signer} is not an authority"
                f" of {payload.issuing_state}"
            )
        if verified.signer != denial.signer:
            raise VerificationError(
                f"{denial.reference}: signed by {verified.signer}, hub says {denial.signer}"
            )
        return payload


def _iso(state: str) -> str:
    """EU usage writes Greece as EL; registries hold the ISO code GR."""
    return {"EL": "GR", "UK": "GB"}.get(state, state)
