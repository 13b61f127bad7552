"""ParticipantService: who am I, who else takes part, and the encryption keys they publish."""

from __future__ import annotations

import hashlib

from client.core.envelope import ENCRYPTION_KEY_PAYLOAD_TYPE
from client.core.signers import KEYID_FIELD
from ecx.v1 import participant_pb2
from server import policy
from server.clock import Clock
from server.domain.encryption_keys import KeyRules, publishable_statement
from server.domain.exchange_log import Event
from server.domain.participants import Caller, Participant, ParticipantStatus, Role
from server.errors import AlreadyExists, InvalidArgument
from server.registry import Registry
from server.services.denials import check_request_id, request_digest
from server.store import Store, Transaction

_ROLES = {
    Role.AUTHORITY: participant_pb2.AUTHORITY,
    Role.COMMISSION: participant_pb2.COMMISSION,
    Role.AUDITOR: participant_pb2.AUDITOR,
    Role.OPERATOR: participant_pb2.OPERATOR,
}
_STATUS = {
    ParticipantStatus.ACTIVE: participant_pb2.PARTICIPANT_ACTIVE,
    ParticipantStatus.SUSPENDED: participant_pb2.PARTICIPANT_SUSPENDED,
}
_PUBLISH = "PublishEncryptionKey"


def to_proto(p: Participant) -> participant_pb2.Participant:
    return participant_pb2.Participant(
        id=p.id,
        member_state=p.member_state,
        display_name=p.display_name,
        roles=sorted(_ROLES[r] for r in p.roles),
        status=_STATUS[p.status],
        signing_certificate=p.signing_certificate_pem,
        spiffe_id=p.spiffe_id,
    )


class ParticipantDirectory:
    """The operations of ParticipantService."""

    def __init__(
        self, registry: Registry, store: Store, clock: Clock, key_rules: KeyRules | None = None
    ) -> None:
        self._registry = registry
        self._store = store
        self._clock = clock
        self._key_rules = key_rules or KeyRules()

    async def who_am_i(
        self, caller: Caller, request: participant_pb2.WhoAmIRequest
    ) -> participant_pb2.WhoAmIResponse:
        return participant_pb2.WhoAmIResponse(participant=to_proto(caller.participant))

    async def list_participants(
        self, caller: Caller, request: participant_pb2.ListParticipantsRequest
    ) -> participant_pb2.ListParticipantsResponse:
        revocations = self._registry.revocations
        participants = [to_proto(p) for p in self._registry.all()]
        # Served as stored: senders verify each key against its participant's signing key.
        today = self._clock.now().date().isoformat()
        keys: dict[str, list[participant_pb2.PublishedKey]] = {}
        for participant, record in await self._store.current_encryption_keys(today):
            keys.setdefault(participant, []).append(participant_pb2.PublishedKey.FromString(record))
        for p in participants:
            p.encryption_keys.extend(keys.get(p.id, ()))
        return participant_pb2.ListParticipantsResponse(
            participants=participants,
            crl=revocations.pem.decode("ascii") if revocations is not None else "",
        )

    async def publish_encryption_key(
        self, caller: Caller, request: participant_pb2.PublishEncryptionKeyRequest
    ) -> participant_pb2.PublishEncryptionKeyResponse:
        check_request_id(request.request_id)
        if not request.HasField("envelope"):
            raise InvalidArgument.field("envelope", "is required")
        verified = self._registry.verify(
            request.envelope, ENCRYPTION_KEY_PAYLOAD_TYPE, self._clock.now()
        )
        if verified.signer != caller.id:
            raise InvalidArgument.field(
                KEYID_FIELD,
                f"the key is signed by {verified.signer}: a participant publishes only the key"
                f" it signs itself ({caller.id})",
            )
        statement = publishable_statement(
            verified.payload, caller.id, self._clock.now().date(), self._key_rules
        )

        def job(tx: Transaction) -> bytes:
            if tx.encryption_key_published(caller.id, statement.key_id):
                raise AlreadyExists(
                    f"key {statement.key_id} is already published by {caller.id}: rotate to"
                    " a new key instead"
                )
            now = self._clock.now()
            index, entry = tx.append_event(
                Event(
                    time=now,
                    actor=caller.id,
                    action=_PUBLISH,
                    object_ids=(statement.object_id,),
                    payload_sha256=hashlib.sha256(verified.payload).digest(),
                    parties=(caller.id, *policy.encryption_key_audience()),
                )
            )
            published = participant_pb2.PublishedKey(
                envelope=request.envelope,
                signer=verified.signer,
                log_index=index,
                log_entry=entry,
            )
            published.published_at.FromDatetime(now)
            tx.save_encryption_key(
                caller.id,
                statement.key_id,
                statement.not_after.isoformat(),
                published.SerializeToString(),
            )
            return participant_pb2.PublishEncryptionKeyResponse(key=published).SerializeToString()

        response = await self._store.write(
            caller.id, request.request_id, _PUBLISH, request_digest(_PUBLISH, request), job
        )
        return participant_pb2.PublishEncryptionKeyResponse.FromString(response)
