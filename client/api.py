"""The async client library: one mTLS channel to the hub, typed calls, verified results."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import grpc
from cryptography import x509
from google.protobuf.message import Message

from client.core.chain import (
    ChainError,
    check_consultation_chain,
    check_denial_chain,
    denial_link,
    denial_statement,
    first_link,
    link_after,
)
from client.core.checkpoint import DEFAULT_ORIGIN, Checkpoint, verify_checkpoint
from client.core.envelope import (
    CONSULTATION_PAYLOAD_TYPE,
    DENIAL_CHANGE_PAYLOAD_TYPE,
    DENIAL_PAYLOAD_TYPE,
    ENCRYPTION_KEY_PAYLOAD_TYPE,
    EnvelopeError,
    VerifyingKey,
    sign,
)
from client.core.merkle import check_inclusion, leaf_hash, verify_inclusion
from client.core.published_keys import (
    KeyCheck,
    KeyStatement,
    PublishedKeyError,
    check_published_key,
    verify_published_key,
)
from client.core.request_ids import new_request_id
from client.core.sealing import EncryptionPrivateKey, RecipientKey
from client.core.signers import PublishedSigners, SignerError, published_signers, signing_time
from client.errors import IdentityError, NoEncryptionKey, RemoteError, VerificationError
from client.identity import Identity
from client.notices import NoticeClient
from ecx.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    common_pb2,
    consultation_pb2,
    consultation_pb2_grpc,
    denial_pb2,
    denial_pb2_grpc,
    notice_pb2_grpc,
    participant_pb2,
    participant_pb2_grpc,
)

T = TypeVar("T")
# The actions that write a denial: their entries name the version they created.
DENIAL_WRITES = ("SubmitDenial", "AmendDenial", "RevokeDenial", "RenewDenial")
DEFAULT_SERVER = "127.0.0.1:50051"


class EcxClient:
    """`async with EcxClient(server, identity) as ecx:` — calls to the hub as that identity."""

    def __init__(
        self,
        server: str,
        identity: Identity,
        *,
        timeout: float = 30.0,
        log_origin: str = DEFAULT_ORIGIN,
    ) -> None:
        self.server = server
        self.identity = identity
        self.timeout = timeout
        self.log_origin = log_origin
        self._channel: grpc.aio.Channel | None = None
        self._participants: Any = None
        self._denials: Any = None
        self._audit: Any = None
        self._consultations: Any = None
        self._notices: Any = None
        self._published: PublishedSigners | None = None

    async def __aenter__(self) -> EcxClient:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=self.identity.ca_pem,
            private_key=self.identity.key_pem,
            certificate_chain=self.identity.cert_pem,
        )
        self._channel = grpc.aio.secure_channel(
            self.server,
            credentials,
            options=[
                ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                # A connection of its own: not shared with other clients in this process.
                ("grpc.use_local_subchannel_pool", 1),
            ],
        )
        self._participants = participant_pb2_grpc.ParticipantServiceStub(self._channel)
        self._denials = denial_pb2_grpc.DenialServiceStub(self._channel)
        self._audit = audit_pb2_grpc.AuditServiceStub(self._channel)
        self._consultations = consultation_pb2_grpc.ConsultationServiceStub(self._channel)
        self._notices = notice_pb2_grpc.NoticeServiceStub(self._channel)
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

    @property
    def audit(self) -> AuditClient:
        return AuditClient(self)

    @property
    def consultations(self) -> ConsultationClient:
        return ConsultationClient(self)

    @property
    def notices(self) -> NoticeClient:
        return NoticeClient(self)

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
        """Published signing keys by key id, to re-verify what other participants signed: only
        those whose certificates the pinned network CA issued to the participant named."""
        return (await self._signers()).signers.keys

    async def _signers(self) -> PublishedSigners:
        """The signing certificates and CRL the hub publishes, checked against the pinned CA;
        fetched once, and again only when the CRL held is past its next update. Raises
        VerificationError if the hub's CRL is not the network CA's or is out of date."""
        now = dt.datetime.now(dt.UTC)
        published = self._published
        if published is None or not published.revocations.is_current(now):
            published = (await self._directory(now))[1]
        return published

    async def _directory(
        self, now: dt.datetime
    ) -> tuple[participant_pb2.ListParticipantsResponse, PublishedSigners]:
        """A fresh ListParticipants answer, and its signers checked against the pinned CA (kept
        for _signers)."""
        response: participant_pb2.ListParticipantsResponse = await self._call(
            self._participants.ListParticipants, participant_pb2.ListParticipantsRequest()
        )
        try:
            network_ca = x509.load_pem_x509_certificate(self.identity.ca_pem)
        except ValueError as e:
            raise IdentityError(
                f"identity {self.identity.directory}: ca.pem is not a PEM certificate"
            ) from e
        try:
            published = published_signers(response, network_ca, now)
        except SignerError as e:
            raise VerificationError(str(e)) from e
        self._published = published
        return response, published

    # Encryption keys

    async def publish_encryption_key(
        self,
        private_key: EncryptionPrivateKey,
        not_after: dt.date,
        *,
        request_id: str | None = None,
    ) -> participant_pb2.PublishedKey:
        """Sign the statement of this key (to be sealed to until not_after) and publish it."""
        statement = KeyStatement.of(private_key, self.identity.certified_id(), not_after)
        request = participant_pb2.PublishEncryptionKeyRequest(
            request_id=request_id or new_request_id(),
            envelope=sign(
                statement.to_payload(),
                ENCRYPTION_KEY_PAYLOAD_TYPE,
                self.identity.require_signing_key(),
            ),
        )
        response: participant_pb2.PublishEncryptionKeyResponse = await self._call(
            self._participants.PublishEncryptionKey, request
        )
        return response.key

    async def recipient_keys(self, participant_ids: Sequence[str]) -> list[RecipientKey]:
        """The current key of each participant, from one ListParticipants answer, each used
        only if that participant's own signing key signed it (VerificationError otherwise: the
        hub may have substituted it); NoEncryptionKey if one has none."""
        now = dt.datetime.now(dt.UTC)
        response, signers = await self._directory(now)
        listed = {p.id: p for p in response.participants}
        keys = []
        for pid in dict.fromkeys(participant_ids):
            participant = listed.get(pid)
            if participant is None or not participant.encryption_keys:
                raise NoEncryptionKey(f"{pid} has no current encryption key at the hub")
            try:
                # (one is current; were several shown, the latest logged is the one to use)
                latest = max(participant.encryption_keys, key=lambda k: k.log_index)
                for published in participant.encryption_keys:
                    statement = verify_published_key(pid, published, signers, now.date())
                    if published is latest:
                        keys.append(statement.recipient())
            except PublishedKeyError as e:
                raise VerificationError(f"{pid}: {e}") from e
        return keys

    async def encryption_keys(self) -> list[tuple[participant_pb2.Participant, list[KeyCheck]]]:
        """Every participant with its current keys, each with the verdict of the checks a
        sender makes before sealing to it."""
        now = dt.datetime.now(dt.UTC)
        response, signers = await self._directory(now)
        return [
            (p, [check_published_key(p.id, k, signers, now.date()) for k in p.encryption_keys])
            for p in response.participants
        ]

    # Denials

    async def submit_denial(
        self, payload: denial_pb2.DenialPayload, *, request_id: str | None = None
    ) -> denial_pb2.Denial:
        """Sign and submit a new denial (version 1 of its history)."""
        statement = denial_pb2.DenialPayload()
        statement.CopyFrom(payload)
        statement.link.CopyFrom(first_link().to_proto())
        request = denial_pb2.SubmitDenialRequest(
            request_id=request_id or new_request_id(),
            envelope=self._sign(statement, DENIAL_PAYLOAD_TYPE),
        )
        response: denial_pb2.DenialResponse = await self._call(self._denials.SubmitDenial, request)
        return response.denial

    def _sign(self, statement: Message, payload_type: str) -> common_pb2.Envelope:
        return sign(
            statement.SerializeToString(deterministic=True),
            payload_type,
            self.identity.require_signing_key(),
        )

    async def _link_denial(
        self, reference: str, statement: Message, follows: denial_pb2.Denial | None
    ) -> None:
        """Set the statement's link to follow the denial's current version: `follows` if the
        caller knows it (no read), else the latest the hub shows. (A retry is linked the same
        way: if its first attempt took effect, the hub answers as it did then.)"""
        latest = follows if follows is not None else (await self.get_denial(reference)).denial
        link = link_after(latest.version, denial_statement(latest))
        statement.link.CopyFrom(link.to_proto())  # type: ignore[attr-defined]

    async def amend_denial(
        self,
        reference: str,
        payload: denial_pb2.DenialPayload,
        *,
        request_id: str | None = None,
        follows: denial_pb2.Denial | None = None,
    ) -> denial_pb2.Denial:
        """Sign and submit new content for a denial, as the version after its current one
        (`follows`, or the latest the hub shows)."""
        statement = denial_pb2.DenialPayload()
        statement.CopyFrom(payload)
        await self._link_denial(reference, statement, follows)
        request = denial_pb2.AmendDenialRequest(
            request_id=request_id or new_request_id(),
            reference=reference,
            envelope=self._sign(statement, DENIAL_PAYLOAD_TYPE),
        )
        response: denial_pb2.DenialResponse = await self._call(self._denials.AmendDenial, request)
        return response.denial

    async def _change_status(
        self,
        reference: str,
        change: int,
        reason: str,
        effective: dt.date | None,
        request_id: str | None,
        follows: denial_pb2.Denial | None,
    ) -> tuple[str, common_pb2.Envelope]:
        statement = denial_pb2.DenialStatusChange(
            reference=reference,
            change=change,  # type: ignore[arg-type]
            reason=reason,
            effective_date=(effective or dt.datetime.now(dt.UTC).date()).isoformat(),
        )
        await self._link_denial(reference, statement, follows)
        return request_id or new_request_id(), self._sign(statement, DENIAL_CHANGE_PAYLOAD_TYPE)

    async def revoke_denial(
        self,
        reference: str,
        reason: str,
        *,
        effective: dt.date | None = None,
        request_id: str | None = None,
        follows: denial_pb2.Denial | None = None,
    ) -> denial_pb2.Denial:
        request_id, envelope = await self._change_status(
            reference, denial_pb2.REVOKE, reason, effective, request_id, follows
        )
        request = denial_pb2.RevokeDenialRequest(
            request_id=request_id, reference=reference, envelope=envelope
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
        follows: denial_pb2.Denial | None = None,
    ) -> denial_pb2.Denial:
        request_id, envelope = await self._change_status(
            reference, denial_pb2.RENEW, reason, effective, request_id, follows
        )
        request = denial_pb2.RenewDenialRequest(
            request_id=request_id, reference=reference, envelope=envelope
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

    async def verify_versions(
        self, versions: Sequence[denial_pb2.Denial]
    ) -> list[denial_pb2.DenialPayload]:
        """Every version of a denial, oldest first: each signed, and each statement linked to the
        one before, so that none was left out, added, replayed or reordered."""
        try:
            check_denial_chain(versions)
        except ChainError as e:
            reference = versions[0].reference if versions else "?"
            raise VerificationError(f"{reference}: history does not verify at {e}") from e
        return [await self.verify_denial(d) for d in versions]

    async def verify_denial(self, denial: denial_pb2.Denial) -> denial_pb2.DenialPayload:
        """Re-verify the issuer's signature over the payload bytes; return the decoded payload.

        Raises VerificationError if the signature fails or the signer is not the issuing state's
        authority that the hub names.
        """
        published = await self._signers()
        signers, revocations = published.signers, published.revocations
        has_change = denial.HasField("change_envelope")
        try:
            signed_at = signing_time(
                denial.log_entry, f"denial:{denial.reference}:v{denial.version}"
            )
            verified = signers.verify_as_of(
                denial.envelope, DENIAL_PAYLOAD_TYPE, revocations, signed_at
            )
            if has_change:
                change = signers.verify_as_of(
                    denial.change_envelope, DENIAL_CHANGE_PAYLOAD_TYPE, revocations, signed_at
                )
                if change.signer != verified.signer:
                    raise VerificationError(
                        f"{denial.reference}: status change signed by {change.signer}"
                    )
        except (EnvelopeError, SignerError) as e:
            raise VerificationError(f"{denial.reference}: {e}") from e
        payload = denial_pb2.DenialPayload.FromString(verified.payload)
        link = denial_link(denial)
        if link is None or link.version != denial.version:
            raise VerificationError(
                f"{denial.reference}: the hub shows version {denial.version}, but its signed"
                f" statement was made as version {link.version if link else 'none'}"
            )
        if payload.reference != denial.reference:
            raise VerificationError(f"{denial.reference}: signed payload names {payload.reference}")
        if published.states.get(verified.signer) != _iso(payload.issuing_state):
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


class AuditClient:
    """Exchange-log calls of an open EcxClient; every checkpoint is verified on arrival."""

    def __init__(self, client: EcxClient) -> None:
        self._client = client

    async def checkpoint(self) -> tuple[Checkpoint, str]:
        """The hub's current checkpoint, verified with the pinned log key; and its signed note."""
        c = self._client
        response: audit_pb2.GetCheckpointResponse = await c._call(
            c._audit.GetCheckpoint, audit_pb2.GetCheckpointRequest()
        )
        note = response.signed_checkpoint
        checkpoint = verify_checkpoint(
            note, c.log_origin, c.identity.require_log_key(), origin=c.log_origin
        )
        return checkpoint, note

    async def inclusion_proof(self, index: int, size: int) -> audit_pb2.GetInclusionProofResponse:
        c = self._client
        request = audit_pb2.GetInclusionProofRequest(leaf_index=index, tree_size=size)
        response: audit_pb2.GetInclusionProofResponse = await c._call(
            c._audit.GetInclusionProof, request
        )
        return response

    async def consistency_proof(self, first: int, second: int) -> list[bytes]:
        c = self._client
        request = audit_pb2.GetConsistencyProofRequest(first_size=first, second_size=second)
        response: audit_pb2.GetConsistencyProofResponse = await c._call(
            c._audit.GetConsistencyProof, request
        )
        return list(response.proof)

    async def entry_batches(
        self, start: int, end: int
    ) -> AsyncIterator[tuple[list[int], list[bytes]]]:
        """Batches (indexes, entries) of the entries in [start, end) this participant may read,
        in index order."""
        call = self._client._audit.GetEntries(audit_pb2.GetEntriesRequest(start=start, end=end))
        try:
            async for response in call:
                yield list(response.indexes), list(response.entries)
        except grpc.aio.AioRpcError as e:
            raise RemoteError.from_rpc_error(e) from e

    async def entries(self, start: int, end: int) -> AsyncIterator[list[audit_pb2.LoggedEntry]]:
        """Like entry_batches, as LoggedEntry messages."""
        async for indexes, entries in self.entry_batches(start, end):
            yield [
                audit_pb2.LoggedEntry(index=i, entry=e)
                for i, e in zip(indexes, entries, strict=True)
            ]

    async def query(
        self, request: audit_pb2.QueryLogRequest
    ) -> AsyncIterator[audit_pb2.LoggedEntry]:
        """Every matching entry, following page tokens."""
        c = self._client
        while True:
            response: audit_pb2.QueryLogResponse = await c._call(c._audit.QueryLog, request)
            for entry in response.entries:
                yield entry
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    async def prove_inclusion(
        self, index: int, entry: bytes | None = None
    ) -> tuple[Checkpoint, audit_pb2.LogEntry]:
        """Prove entry `index` is in the tree of a freshly verified checkpoint.

        Uses `entry` if given (e.g. from a denial response), else the one the hub returns with
        the proof. Raises VerificationError if anything does not verify.
        """
        checkpoint, _ = await self.checkpoint()
        if index >= checkpoint.size:
            raise VerificationError(f"entry {index} is not in the log of {checkpoint.size} entries")
        response = await self.inclusion_proof(index, checkpoint.size)
        data = entry if entry is not None else response.entry
        if not data:
            raise VerificationError(f"entry {index} is not readable by this participant")
        verify_inclusion(
            index, checkpoint.size, leaf_hash(data), list(response.proof), checkpoint.root
        )
        decoded = audit_pb2.LogEntry.FromString(data)
        if decoded.index != index:
            raise VerificationError(f"entry {index} claims index {decoded.index}")
        return checkpoint, decoded

    async def prove_denial(self, denial: denial_pb2.Denial) -> Checkpoint:
        """Prove that this version of a denial, exactly as signed, is recorded in the log."""
        checkpoint, entry = await self.prove_inclusion(denial.log_index, denial.log_entry)
        signed = denial.change_envelope if denial.HasField("change_envelope") else denial.envelope
        object_id = f"denial:{denial.reference}:v{denial.version}"
        if entry.payload_sha256 != hashlib.sha256(signed.payload).digest():
            raise VerificationError(f"log entry {denial.log_index} records another payload")
        if object_id not in entry.object_ids or entry.outcome != "OK":
            raise VerificationError(f"log entry {denial.log_index} is not about {object_id}")
        return checkpoint

    async def prove_latest(self, denial: denial_pb2.Denial) -> tuple[Checkpoint, int]:
        """Prove that this version is the latest the signed log records for its denial: every
        write of the denial the log holds (each with an inclusion proof against one verified
        checkpoint) names a version no later than this one. A hub that hides a later version
        (a revocation, say) from its store or its answers is caught here, unless it also hides
        the log entry, which the log's consistency and the national copies catch. Returns the
        checkpoint and the number of versions the log records."""
        checkpoint = await self.prove_denial(denial)
        prefix = f"denial:{denial.reference}:v"
        versions: set[int] = set()
        query = audit_pb2.QueryLogRequest(object_id=f"denial:{denial.reference}")
        async for logged in self.query(query):
            if logged.index >= checkpoint.size:
                continue
            entry = audit_pb2.LogEntry.FromString(logged.entry)
            if entry.outcome != "OK" or entry.action not in DENIAL_WRITES:
                continue
            response = await self.inclusion_proof(logged.index, checkpoint.size)
            result = check_inclusion(
                logged.index,
                checkpoint.size,
                leaf_hash(logged.entry),
                list(response.proof),
                checkpoint.root,
            )
            if not result.ok:
                raise VerificationError(f"log entry {logged.index} is not in the signed log")
            for object_id in entry.object_ids:
                if object_id.startswith(prefix) and object_id[len(prefix) :].isdigit():
                    versions.add(int(object_id[len(prefix) :]))
        if denial.version not in versions:
            raise VerificationError(
                f"{denial.reference}: the signed log records no version {denial.version}"
            )
        if max(versions) != denial.version:
            raise VerificationError(
                f"{denial.reference}: the signed log records version {max(versions)}, the hub"
                f" shows version {denial.version} as the latest"
            )
        return checkpoint, len(versions)


class ConsultationClient:
    """Screening and consultation calls of an open EcxClient; every step is signed here."""

    def __init__(self, client: EcxClient) -> None:
        self._client = client

    async def screen(
        self,
        transaction: consultation_pb2.Transaction,
        *,
        include_inactive: bool = False,
        max_results: int = 0,
    ) -> consultation_pb2.ScreenTransactionResponse:
        c = self._client
        request = consultation_pb2.ScreenTransactionRequest(
            transaction=transaction, include_inactive=include_inactive, max_results=max_results
        )
        response: consultation_pb2.ScreenTransactionResponse = await c._call(
            c._consultations.ScreenTransaction, request
        )
        return response

    async def _step(
        self,
        method: str,
        statement: consultation_pb2.ConsultationStatement,
        request_id: str | None,
        follows: consultation_pb2.Consultation | None = None,
    ) -> consultation_pb2.Consultation:
        """Sign and send one step, linked after the consultation's current version (`follows`,
        or as the hub shows it); an opening is version 1."""
        c = self._client
        if method == "OpenConsultation":
            statement.link.CopyFrom(first_link().to_proto())
        else:
            current = follows if follows is not None else await self.get(statement.reference)
            link = link_after(current.version, current.events[-1].envelope.payload)
            statement.link.CopyFrom(link.to_proto())
        envelope = sign(
            statement.SerializeToString(deterministic=True),
            CONSULTATION_PAYLOAD_TYPE,
            c.identity.require_signing_key(),
        )
        request = consultation_pb2.ConsultationStepRequest(
            request_id=request_id or new_request_id(), envelope=envelope
        )
        response: consultation_pb2.ConsultationResponse = await c._call(
            getattr(c._consultations, method), request
        )
        return response.consultation

    async def open(
        self,
        reference: str,
        denial_references: list[str],
        transaction: consultation_pb2.Transaction,
        message: str,
        contact: str,
        *,
        request_id: str | None = None,
    ) -> consultation_pb2.Consultation:
        statement = consultation_pb2.ConsultationStatement(
            reference=reference,
            opening=consultation_pb2.ConsultationOpening(
                denial_references=denial_references,
                transaction=transaction,
                message=message,
                contact=contact,
            ),
        )
        return await self._step("OpenConsultation", statement, request_id)

    async def respond(
        self,
        reference: str,
        position: int,
        explanation: str,
        *,
        request_id: str | None = None,
        follows: consultation_pb2.Consultation | None = None,
    ) -> consultation_pb2.Consultation:
        statement = consultation_pb2.ConsultationStatement(
            reference=reference,
            answer=consultation_pb2.ConsultationAnswer(
                position=position,  # type: ignore[arg-type]
                explanation=explanation,
            ),
        )
        return await self._step("RespondToConsultation", statement, request_id, follows)

    async def extend(
        self,
        reference: str,
        new_deadline: dt.date,
        reason: str,
        *,
        request_id: str | None = None,
        follows: consultation_pb2.Consultation | None = None,
    ) -> consultation_pb2.Consultation:
        statement = consultation_pb2.ConsultationStatement(
            reference=reference,
            extension=consultation_pb2.DeadlineExtension(
                new_deadline=new_deadline.isoformat(), reason=reason
            ),
        )
        return await self._step("ExtendConsultation", statement, request_id, follows)

    async def decide(
        self,
        reference: str,
        decision: int,
        reasoning: str,
        *,
        request_id: str | None = None,
        follows: consultation_pb2.Consultation | None = None,
    ) -> consultation_pb2.Consultation:
        statement = consultation_pb2.ConsultationStatement(
            reference=reference,
            decision=consultation_pb2.ConsultationDecision(
                decision=decision,  # type: ignore[arg-type]
                reasoning=reasoning,
            ),
        )
        return await self._step("RecordDecision", statement, request_id, follows)

    async def get(self, reference: str) -> consultation_pb2.Consultation:
        c = self._client
        response: consultation_pb2.GetConsultationResponse = await c._call(
            c._consultations.GetConsultation,
            consultation_pb2.GetConsultationRequest(reference=reference),
        )
        return response.consultation

    async def list(
        self, *, role: int = 0, state: int = 0, overdue_only: bool = False, page_size: int = 0
    ) -> AsyncIterator[consultation_pb2.Consultation]:
        c = self._client
        token = ""
        while True:
            request = consultation_pb2.ListConsultationsRequest(
                role=role,  # type: ignore[arg-type]
                state=state,  # type: ignore[arg-type]
                overdue_only=overdue_only,
                page_size=page_size,
                page_token=token,
            )
            response: consultation_pb2.ListConsultationsResponse = await c._call(
                c._consultations.ListConsultations, request
            )
            for consultation in response.consultations:
                yield consultation
            token = response.next_page_token
            if not token:
                return

    async def verify(self, consultation: consultation_pb2.Consultation) -> None:
        """Every step was signed by the party the hub names, over the bytes recorded, and each
        step's statement links to the one before."""
        try:
            check_consultation_chain(consultation)
        except ChainError as e:
            raise VerificationError(
                f"{consultation.reference}: history does not verify at {e}"
            ) from e
        published = await self._client._signers()
        for event in consultation.events:
            try:
                signed_at = signing_time(
                    event.log_entry, f"consultation:{consultation.reference}:v{event.version}"
                )
                verified = published.signers.verify_as_of(
                    event.envelope, CONSULTATION_PAYLOAD_TYPE, published.revocations, signed_at
                )
            except (EnvelopeError, SignerError) as e:
                raise VerificationError(f"{consultation.reference} v{event.version}: {e}") from e
            if verified.signer != event.signer:
                raise VerificationError(
                    f"{consultation.reference} v{event.version}: signed by {verified.signer},"
                    f" hub says {event.signer}"
                )
            statement = consultation_pb2.ConsultationStatement.FromString(verified.payload)
            if statement.reference != consultation.reference:
                raise VerificationError(
                    f"{consultation.reference}: a step names another consultation"
                )
