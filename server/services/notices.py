"""NoticeService: sensitive notices, routed by metadata, stored as ciphertext.

Every step is a signed statement: the originator's versions, withdrawal and grants of further
sharing form the notice's hash chain; recipients' acknowledgements and requests name the version
they are about. The hub checks signatures, routing and eligibility, records each step in the
exchange log with its digest, and stores the statements as received. It never holds a content key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable
from typing import cast

from client.core.chain import ChainError, Link, check_chain, statement_sha256
from client.core.envelope import NOTICE_PAYLOAD_TYPE
from ecx.v1 import notice_pb2
from server import policy
from server.clock import Clock
from server.domain import notices as rules
from server.domain.denials import (
    REFERENCE,
    REFERENCE_FORM,
    FieldChecker,
    check_follows,
    check_link_form,
    has_unknown_fields,
)
from server.domain.exchange_log import Event
from server.domain.participants import Caller, Role
from server.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    StoreDamaged,
)
from server.registry import Registry
from server.services.denials import check_request_id, request_digest
from server.services.paging import NOTICE_PAGE, PositionTokens
from server.services.reads import record_read
from server.services.signed import SignedState
from server.store import (
    NoticeFilter,
    NoticeRow,
    Store,
    StoredNotice,
    Transaction,
)
from server.store.base import ACKNOWLEDGEMENT, SHARING_REQUEST

log = logging.getLogger(__name__)

_STEPS = {
    "ShareNotice": "version",
    "UpdateNotice": "version",
    "WithdrawNotice": "withdrawal",
    "GrantFurtherSharing": "grant",
    "AcknowledgeNotice": "acknowledgement",
    "RequestFurtherSharing": "request",
}
_CHAINED = {"version", "withdrawal", "grant"}
_MAX_PAGE = 200


def _object_id(reference: str, version: int | None = None) -> str:
    return f"notice:{reference}" if version is None else f"notice:{reference}:v{version}"


class NoticeDesk:
    """The operations of NoticeService."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        clock: Clock,
        notice_rules: rules.NoticeRules,
        signed: SignedState,
        tokens: PositionTokens,
    ) -> None:
        self._tokens = tokens
        self._store = store
        self._registry = registry
        self._clock = clock
        self._rules = notice_rules
        self._signed = signed

    # Statements

    def _statement(
        self, caller: Caller, request: notice_pb2.NoticeStepRequest, method: str
    ) -> notice_pb2.NoticeStatement:
        check_request_id(request.request_id)
        if not request.HasField("envelope"):
            raise InvalidArgument.field("envelope", "is required")
        verified = self._registry.verify(request.envelope, NOTICE_PAYLOAD_TYPE, self._clock.now())
        if verified.signer != caller.id:
            raise PermissionDenied(
                f"payload is signed by {verified.signer}, not by the caller {caller.id}"
            )
        try:
            statement = notice_pb2.NoticeStatement.FromString(verified.payload)
        except Exception as e:
            raise InvalidArgument.field("envelope.payload", "not a NoticeStatement") from e
        if has_unknown_fields(statement):
            raise InvalidArgument.field("envelope.payload", "carries fields unknown to the hub")
        expected = _STEPS[method]
        if statement.WhichOneof("step") != expected:
            raise InvalidArgument.field("envelope.payload", f"must carry the {expected} step")
        if not REFERENCE.fullmatch(statement.reference):
            raise InvalidArgument.field("envelope.payload.reference", REFERENCE_FORM)
        c = FieldChecker()
        field = "envelope.payload.link"
        if expected in _CHAINED:
            link = check_link_form(c, field, statement.link if statement.HasField("link") else None)
            first = method == "ShareNotice"
            if first and link.version != 1:
                c.fail(f"{field}.version", "a new notice is version 1")
            elif not first and link.version == 1:
                c.fail(f"{field}.version", "a change follows a version: 2 or later")
        elif statement.HasField("link"):
            c.fail(field, "a reply names the version it is about, outside the notice's chain")
        c.raise_if_any()
        return statement

    def _eligible(self) -> rules.Eligible:
        authorities: dict[str, str] = {}
        commission: set[str] = set()
        for p in self._registry.all():
            if not policy.may_receive_notices(p):
                continue
            if p.has(Role.AUTHORITY):
                authorities[p.id] = p.member_state
            elif p.has(Role.COMMISSION):
                commission.add(p.id)
        return rules.Eligible(authorities, frozenset(commission))

    def _record(
        self,
        tx: Transaction,
        caller: Caller,
        action: str,
        request: notice_pb2.NoticeStepRequest,
        version: int | None,
        reference: str,
        parties: Iterable[str],
    ) -> notice_pb2.NoticeStep:
        """The step as recorded, with the exchange-log event in the same transaction."""
        now = self._clock.now()
        index, entry = tx.append_event(
            Event(
                time=now,
                actor=caller.id,
                action=action,
                object_ids=(_object_id(reference, version),),
                payload_sha256=statement_sha256(request.envelope.payload),
                parties=tuple(sorted(set(parties))),
            )
        )
        step = notice_pb2.NoticeStep(
            version=version or 0,
            envelope=request.envelope,
            signer=caller.id,
            log_index=index,
            log_entry=entry,
        )
        step.recorded_at.FromDatetime(now)
        return step

    async def _write(
        self,
        caller: Caller,
        method: str,
        request: notice_pb2.NoticeStepRequest,
        job: Callable[[Transaction], bytes],
    ) -> notice_pb2.NoticeResponse:
        digest = request_digest(method, request)
        response = await self._store.write(caller.id, request.request_id, method, digest, job)
        return notice_pb2.NoticeResponse.FromString(response)

    def _current(
        self, tx: Transaction, caller: Caller, reference: str
    ) -> tuple[StoredNotice, notice_pb2.Notice]:
        stored = tx.notice(reference)
        if stored is None:
            raise NotFound(f"no notice {reference}")
        policy.authorize_notice_read(caller, stored.row.originator, stored.readers, reference)
        return stored, self._view(caller, stored)

    async def share_notice(
        self, caller: Caller, request: notice_pb2.NoticeStepRequest
    ) -> notice_pb2.NoticeResponse:
        statement = self._statement(caller, request, "ShareNotice")
        today = self._clock.now().date()
        eligible = self._eligible()
        reference = statement.reference

        def job(tx: Transaction) -> bytes:
            # The statement first: whether another state's reference exists is not the
            # caller's to learn.
            version = rules.check_version(
                statement,
                originator=caller.id,
                originator_state=caller.participant.member_state,
                eligible=eligible,
                current_keys=tx.current_key_ids(
                    [*statement.version.recipients, caller.id], today.isoformat()
                ),
                today=today,
                rules=self._rules,
                first=True,
            )
            if tx.notice(reference) is not None:
                raise AlreadyExists(f"notice {reference} already exists")
            row = NoticeRow(
                reference=reference,
                originator=caller.id,
                originating_state=caller.participant.member_state,
                kind=version.kind,
                classification=version.classification,
                state=notice_pb2.NOTICE_SHARED,
                version=1,
                content_version=1,
                review_date=version.review_date,
            )
            return self._save(tx, caller, "ShareNotice", request, row, version.recipients)

        return await self._write(caller, "ShareNotice", request, job)

    def _save(
        self,
        tx: Transaction,
        caller: Caller,
        action: str,
        request: notice_pb2.NoticeStepRequest,
        row: NoticeRow,
        new_readers: Iterable[str],
        readers: Iterable[str] = (),
    ) -> bytes:
        everyone = {row.originator, *readers, *new_readers}
        step = self._record(tx, caller, action, request, row.version, row.reference, everyone)
        tx.save_notice_step(row, step.SerializeToString(), new_readers)
        stored = tx.notice(row.reference)
        assert stored is not None
        return notice_pb2.NoticeResponse(notice=self._view(caller, stored)).SerializeToString()

    async def update_notice(
        self, caller: Caller, request: notice_pb2.NoticeStepRequest
    ) -> notice_pb2.NoticeResponse:
        statement = self._statement(caller, request, "UpdateNotice")
        today = self._clock.now().date()
        eligible = self._eligible()

        def job(tx: Transaction) -> bytes:
            stored, _ = self._current(tx, caller, statement.reference)
            row = stored.row
            policy.authorize_notice_change(caller, row.originator, "updates", row.reference)
            rules.check_shared(row.state, row.reference)
            _check_follows(statement, stored)
            version = rules.check_version(
                statement,
                originator=caller.id,
                originator_state=caller.participant.member_state,
                eligible=eligible,
                current_keys=tx.current_key_ids(
                    [*statement.version.recipients, caller.id], today.isoformat()
                ),
                today=today,
                rules=self._rules,
                first=False,
            )
            new = NoticeRow(
                reference=row.reference,
                originator=row.originator,
                originating_state=row.originating_state,
                kind=version.kind,
                classification=version.classification,
                state=notice_pb2.NOTICE_SHARED,
                version=row.version + 1,
                content_version=row.version + 1,
                review_date=version.review_date,
            )
            return self._save(
                tx, caller, "UpdateNotice", request, new, version.recipients, stored.readers
            )

        return await self._write(caller, "UpdateNotice", request, job)

    async def withdraw_notice(
        self, caller: Caller, request: notice_pb2.NoticeStepRequest
    ) -> notice_pb2.NoticeResponse:
        statement = self._statement(caller, request, "WithdrawNotice")
        rules.check_withdrawal(statement)

        def job(tx: Transaction) -> bytes:
            stored, _ = self._current(tx, caller, statement.reference)
            row = stored.row
            policy.authorize_notice_change(caller, row.originator, "withdraws", row.reference)
            rules.check_shared(row.state, row.reference)
            _check_follows(statement, stored)
            new = _replace(row, state=notice_pb2.NOTICE_WITHDRAWN, version=row.version + 1)
            return self._save(tx, caller, "WithdrawNotice", request, new, (), stored.readers)

        return await self._write(caller, "WithdrawNotice", request, job)

    async def grant_further_sharing(
        self, caller: Caller, request: notice_pb2.NoticeStepRequest
    ) -> notice_pb2.NoticeResponse:
        statement = self._statement(caller, request, "GrantFurtherSharing")
        eligible = self._eligible()
        today = self._clock.now().date().isoformat()

        def job(tx: Transaction) -> bytes:
            stored, view = self._current(tx, caller, statement.reference)
            row = stored.row
            policy.authorize_notice_change(caller, row.originator, "shares", row.reference)
            rules.check_shared(row.state, row.reference)
            _check_follows(statement, stored)
            grant = rules.check_grant(
                statement,
                originator=row.originator,
                readers=stored.readers,
                content_versions=sorted(_contents(view)),
                requests=len(view.requests),
                eligible=eligible,
                current_keys=tx.current_key_ids([*statement.grant.recipients, caller.id], today),
            )
            new = _replace(row, version=row.version + 1)
            return self._save(
                tx, caller, "GrantFurtherSharing", request, new, grant.recipients, stored.readers
            )

        return await self._write(caller, "GrantFurtherSharing", request, job)

    async def acknowledge_notice(
        self, caller: Caller, request: notice_pb2.NoticeStepRequest
    ) -> notice_pb2.NoticeResponse:
        statement = self._statement(caller, request, "AcknowledgeNotice")

        def job(tx: Transaction) -> bytes:
            stored, view = self._current(tx, caller, statement.reference)
            row = stored.row
            policy.authorize_notice_reply(caller, row.originator, "acknowledge", row.reference)
            ack = rules.check_acknowledgement(statement, _contents(view))
            return self._reply(
                tx, caller, "AcknowledgeNotice", request, stored, ACKNOWLEDGEMENT, ack.version
            )

        return await self._write(caller, "AcknowledgeNotice", request, job)

    async def request_further_sharing(
        self, caller: Caller, request: notice_pb2.NoticeStepRequest
    ) -> notice_pb2.NoticeResponse:
        statement = self._statement(caller, request, "RequestFurtherSharing")
        eligible = self._eligible()

        def job(tx: Transaction) -> bytes:
            stored, _ = self._current(tx, caller, statement.reference)
            row = stored.row
            policy.authorize_notice_reply(caller, row.originator, "ask to share", row.reference)
            rules.check_shared(row.state, row.reference)
            asked = rules.check_request(
                statement,
                originator=row.originator,
                readers=stored.readers,
                latest_version=row.version,
                eligible=eligible,
            )
            return self._reply(
                tx, caller, "RequestFurtherSharing", request, stored, SHARING_REQUEST, asked.version
            )

        return await self._write(caller, "RequestFurtherSharing", request, job)

    def _reply(
        self,
        tx: Transaction,
        caller: Caller,
        action: str,
        request: notice_pb2.NoticeStepRequest,
        stored: StoredNotice,
        kind: int,
        version: int,
    ) -> bytes:
        row = stored.row
        step = self._record(
            tx, caller, action, request, None, row.reference, (row.originator, caller.id)
        )
        step.version = version
        if not tx.save_notice_reply(
            row.reference, caller.id, kind, version, step.SerializeToString()
        ):
            what = "acknowledged" if kind == ACKNOWLEDGEMENT else "asked to share"
            raise AlreadyExists(f"{caller.id} already {what} version {version} of {row.reference}")
        fresh = tx.notice(row.reference)
        assert fresh is not None
        return notice_pb2.NoticeResponse(notice=self._view(caller, fresh)).SerializeToString()

    # Reads

    def _view(self, caller: Caller, stored: StoredNotice) -> notice_pb2.Notice:
        """The notice as `caller` may see it: the originator sees who acknowledged and every
        request; a recipient only its own requests."""
        row = stored.row
        today = self._clock.now().date().isoformat()
        notice = notice_pb2.Notice(
            reference=row.reference,
            version=row.version,
            state=cast(notice_pb2.NoticeState, row.state),
            kind=cast(notice_pb2.NoticeKind, row.kind),
            classification=cast(notice_pb2.Classification, row.classification),
            originator=row.originator,
            recipients=stored.readers,
            review_date=row.review_date,
            expired=row.review_date < today,
        )
        for record in stored.steps:
            notice.steps.add().MergeFromString(record)
        mine = caller.id == row.originator
        for participant, kind, version, record in stored.replies:
            if kind == ACKNOWLEDGEMENT:
                if participant == caller.id and version == row.content_version:
                    notice.acknowledged = True
                if mine:
                    notice.acknowledgements.add().MergeFromString(record)
            elif mine or participant == caller.id:
                notice.requests.add().MergeFromString(record)
        return notice

    def _checked(self, stored: StoredNotice) -> frozenset[str]:
        """The originator's steps as signed — one chain, each signed by the originator — and
        who they make readers: the recipients of its versions and of its grants. StoreDamaged
        (logged) if the store holds anything else."""
        row = stored.row
        readers: set[str] = set()
        try:
            steps = [notice_pb2.NoticeStep.FromString(s) for s in stored.steps]
            statements = [notice_pb2.NoticeStatement.FromString(s.envelope.payload) for s in steps]
            check_chain(
                [
                    (s.version, _link(st), s.envelope.payload)
                    for s, st in zip(steps, statements, strict=True)
                ]
            )
            for step, statement in zip(steps, statements, strict=True):
                signed_at = step.recorded_at.ToDatetime(tzinfo=dt.UTC)
                signer = self._signed.verify(step.envelope, NOTICE_PAYLOAD_TYPE, signed_at)
                if signer != row.originator or statement.reference != row.reference:
                    raise ValueError(f"step {step.version} is not the originator's")
                kind = statement.WhichOneof("step")
                if kind == "version":
                    readers.update(statement.version.recipients)
                elif kind == "grant":
                    readers.update(statement.grant.recipients)
        except (ChainError, ValueError) as e:
            log.error("store integrity: notice %s: %s; not served", row.reference, e)
            raise StoreDamaged(f"the hub's store is damaged at notice {row.reference}") from e
        if readers != set(stored.readers):
            log.error(
                "store integrity: notice %s: its readers are not those its steps name",
                row.reference,
            )
        return frozenset(readers)

    async def get_notice(
        self, caller: Caller, request: notice_pb2.GetNoticeRequest
    ) -> notice_pb2.GetNoticeResponse:
        if not REFERENCE.fullmatch(request.reference):
            raise InvalidArgument.field("reference", REFERENCE_FORM)
        stored = await self._store.notice(request.reference)
        if stored is None:
            raise NotFound(f"no notice {request.reference}")
        # Whom the store names may be told it exists; who may read it follows from what the
        # originator signed.
        policy.authorize_notice_read(
            caller, stored.row.originator, stored.readers, request.reference
        )
        readers = self._checked(stored)
        policy.authorize_notice_read(caller, stored.row.originator, readers, request.reference)
        response = notice_pb2.GetNoticeResponse(notice=self._view(caller, stored))
        await self._log_read(caller, "GetNotice", [response.notice], response.SerializeToString())
        return response

    async def list_notices(
        self, caller: Caller, request: notice_pb2.ListNoticesRequest
    ) -> notice_pb2.ListNoticesResponse:
        if request.kind not in notice_pb2.NoticeKind.values():
            raise InvalidArgument.field("kind", "unknown kind")
        if request.page_size > _MAX_PAGE:
            raise InvalidArgument.field("page_size", f"at most {_MAX_PAGE}")
        state = request.originating_state.upper()
        if state and not (len(state) == 2 and state.isalpha()):
            raise InvalidArgument.field("originating_state", "an ISO 3166-1 alpha-2 code")
        size = request.page_size or 50
        after = self._tokens.open(NOTICE_PAGE, caller.id, request.page_token, first=0)
        today = self._clock.now().date().isoformat()
        flt = NoticeFilter(
            reader=caller.id,
            kind=request.kind,
            originating_state=state,
            unacknowledged=request.unacknowledged_only,
            in_force_on="" if request.include_expired else today,
        )
        found = await self._store.list_notices(flt, after, size + 1)
        response = notice_pb2.ListNoticesResponse()
        for stored in found[:size]:
            try:
                readers = self._checked(stored)
            except StoreDamaged:
                continue
            if caller.id == stored.row.originator or caller.id in readers:
                response.notices.append(self._view(caller, stored))
        if len(found) > size:
            response.next_page_token = self._tokens.seal(NOTICE_PAGE, caller.id, found[size - 1].id)
        await self._log_read(
            caller, "ListNotices", response.notices, response.SerializeToString(deterministic=True)
        )
        return response

    async def _log_read(
        self, caller: Caller, action: str, shown: Iterable[notice_pb2.Notice], response: bytes
    ) -> None:
        notices = list(shown)
        await record_read(
            self._store,
            self._clock,
            caller,
            action,
            [_object_id(n.reference, n.version) for n in notices],
            {n.originator for n in notices},
            hashlib.sha256(response).digest(),
        )


def _link(statement: notice_pb2.NoticeStatement) -> Link | None:
    return Link.of(statement.link) if statement.HasField("link") else None


def _contents(notice: notice_pb2.Notice) -> dict[int, bytes]:
    """The content digest of each version that carries content."""
    found: dict[int, bytes] = {}
    for step in notice.steps:
        statement = notice_pb2.NoticeStatement.FromString(step.envelope.payload)
        if statement.WhichOneof("step") == "version":
            found[step.version] = statement.version.content_sha256
    return found


def _check_follows(statement: notice_pb2.NoticeStatement, stored: StoredNotice) -> None:
    last = notice_pb2.NoticeStep.FromString(stored.steps[-1])
    check_follows(
        Link.of(statement.link),
        f"notice {stored.row.reference}",
        stored.row.version,
        last.envelope.payload,
    )


def _replace(row: NoticeRow, *, version: int, state: int | None = None) -> NoticeRow:
    return dataclasses.replace(row, version=version, state=row.state if state is None else state)
