"""Notice calls of an open EcxClient: every notice is sealed here, to keys whose owners signed
them, and opened here; the hub sees ciphertext and routing metadata only."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from client.core.chain import first_link, link_after
from client.core.envelope import NOTICE_PAYLOAD_TYPE, EnvelopeError, sign
from client.core.notices import (
    BROADCAST_KINDS,
    NoticeError,
    OpenedNotice,
    grant_wraps,
    open_notice,
    seal_version,
)
from client.core.request_ids import new_request_id
from client.core.signers import SignerError, signing_time
from client.errors import VerificationError
from ecx.v1 import notice_pb2, participant_pb2

if TYPE_CHECKING:
    from client.api import EcxClient

# Clients propose a review this far ahead unless told otherwise [assumed: two years].
DEFAULT_REVIEW_YEARS = 2


def _years_ahead(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


class NoticeClient:
    """Share, update, withdraw, open, acknowledge and pass on notices."""

    def __init__(self, client: EcxClient) -> None:
        self._client = client

    async def _everyone(self, kind: int) -> list[str]:
        """Every member-state authority but this one, and the Commission for a dual-use
        broadcast: as the registry the hub serves names them."""
        me = self._client.identity.certified_id()
        found = []
        for p in await self._client.participants():
            if p.status != participant_pb2.PARTICIPANT_ACTIVE or p.id == me:
                continue
            if participant_pb2.AUTHORITY in p.roles or (
                kind in BROADCAST_KINDS and participant_pb2.COMMISSION in p.roles
            ):
                found.append(p.id)
        return sorted(found)

    async def _send(
        self, method: str, statement: notice_pb2.NoticeStatement, request_id: str | None
    ) -> notice_pb2.Notice:
        c = self._client
        envelope = sign(
            statement.SerializeToString(deterministic=True),
            NOTICE_PAYLOAD_TYPE,
            c.identity.require_signing_key(),
        )
        request = notice_pb2.NoticeStepRequest(
            request_id=request_id or new_request_id(), envelope=envelope
        )
        response: notice_pb2.NoticeResponse = await c._call(getattr(c._notices, method), request)
        return response.notice

    async def _version(
        self,
        reference: str,
        version: int,
        content: notice_pb2.NoticeContent,
        *,
        kind: int,
        classification: int,
        to: Sequence[str] | None,
        review: dt.date | None,
    ) -> notice_pb2.NoticeVersion:
        """A content version sealed to its recipients (`to`, or everyone when None)."""
        c = self._client
        me = c.identity.certified_id()
        recipients = sorted(set(to)) if to is not None else await self._everyone(kind)
        keys = await c.recipient_keys(recipients)
        own = c.identity.require_encryption_key().recipient(me)
        sealed = seal_version(
            content,
            reference=reference,
            version=version,
            originator=me,
            recipients=keys,
            own_key=own,
        )
        review = review or _years_ahead(dt.datetime.now(dt.UTC).date(), DEFAULT_REVIEW_YEARS)
        return notice_pb2.NoticeVersion(
            kind=kind,  # type: ignore[arg-type]
            classification=classification,  # type: ignore[arg-type]
            recipients=recipients,
            to_all=to is None,
            review_date=review.isoformat(),
            ciphertext=sealed.ciphertext,
            content_sha256=sealed.content_sha256,
            wraps=sealed.wraps,
        )

    async def share(
        self,
        reference: str,
        content: notice_pb2.NoticeContent,
        *,
        kind: int,
        classification: int,
        to: Sequence[str] | None = None,
        review: dt.date | None = None,
        request_id: str | None = None,
    ) -> notice_pb2.Notice:
        """Share a new notice with `to` (participant ids), or every member state when None (and
        the Commission for a dual-use broadcast)."""
        version = await self._version(
            reference, 1, content, kind=kind, classification=classification, to=to, review=review
        )
        statement = notice_pb2.NoticeStatement(
            reference=reference, link=first_link().to_proto(), version=version
        )
        return await self._send("ShareNotice", statement, request_id)

    async def update(
        self,
        reference: str,
        content: notice_pb2.NoticeContent,
        *,
        kind: int | None = None,
        classification: int | None = None,
        to: Sequence[str] | None = None,
        to_all: bool = False,
        review: dt.date | None = None,
        follows: notice_pb2.Notice | None = None,
        request_id: str | None = None,
    ) -> notice_pb2.Notice:
        """A new version of the content, by default to the recipients and marking of the
        version in force."""
        current = follows if follows is not None else await self.get(reference)
        opened = await self.open(current)
        version_number = current.version + 1
        recipients = None if to_all else (to if to is not None else _content_recipients(current))
        version = await self._version(
            reference,
            version_number,
            content,
            kind=kind or opened.kind,
            classification=classification or opened.classification,
            to=recipients,
            review=review or dt.date.fromisoformat(current.review_date),
        )
        statement = notice_pb2.NoticeStatement(
            reference=reference,
            link=link_after(current.version, current.steps[-1].envelope.payload).to_proto(),
            version=version,
        )
        return await self._send("UpdateNotice", statement, request_id)

    async def withdraw(
        self,
        reference: str,
        reason: str,
        *,
        follows: notice_pb2.Notice | None = None,
        request_id: str | None = None,
    ) -> notice_pb2.Notice:
        current = follows if follows is not None else await self.get(reference)
        statement = notice_pb2.NoticeStatement(
            reference=reference,
            link=link_after(current.version, current.steps[-1].envelope.payload).to_proto(),
            withdrawal=notice_pb2.NoticeWithdrawal(reason=reason),
        )
        return await self._send("WithdrawNotice", statement, request_id)

    async def grant(
        self,
        reference: str,
        to: Sequence[str],
        *,
        answers: Sequence[int] = (),
        follows: notice_pb2.Notice | None = None,
        request_id: str | None = None,
    ) -> notice_pb2.Notice:
        """Let `to` read the content in force: its key, recovered from the originator's own
        wrap, wrapped again for each of them. The hub never holds the key."""
        current = follows if follows is not None else await self.get(reference)
        opened = await self.open(current)
        me = self._client.identity.certified_id()
        keys = await self._client.recipient_keys(sorted(set(to)))
        version = current.version + 1
        wraps = grant_wraps(
            opened.content_key,
            reference=reference,
            statement_version=version,
            originator=me,
            content_version=opened.content_version,
            content_sha256=opened.content_sha256,
            recipients=keys,
        )
        statement = notice_pb2.NoticeStatement(
            reference=reference,
            link=link_after(current.version, current.steps[-1].envelope.payload).to_proto(),
            grant=notice_pb2.SharingGrant(
                content_version=opened.content_version,
                recipients=sorted(set(to)),
                wraps=wraps,
                answers=answers,
            ),
        )
        return await self._send("GrantFurtherSharing", statement, request_id)

    async def acknowledge(
        self, reference: str, *, request_id: str | None = None
    ) -> notice_pb2.Notice:
        """Sign the receipt of the version in force, after opening it."""
        opened = await self.open(await self.get(reference))
        statement = notice_pb2.NoticeStatement(
            reference=reference,
            acknowledgement=notice_pb2.Acknowledgement(
                version=opened.content_version, content_sha256=opened.content_sha256
            ),
        )
        return await self._send("AcknowledgeNotice", statement, request_id)

    async def request_sharing(
        self,
        reference: str,
        to: Sequence[str],
        reason: str,
        *,
        request_id: str | None = None,
    ) -> notice_pb2.Notice:
        current = await self.get(reference)
        statement = notice_pb2.NoticeStatement(
            reference=reference,
            request=notice_pb2.SharingRequest(
                version=current.version, recipients=sorted(set(to)), reason=reason
            ),
        )
        return await self._send("RequestFurtherSharing", statement, request_id)

    async def get(self, reference: str) -> notice_pb2.Notice:
        c = self._client
        response: notice_pb2.GetNoticeResponse = await c._call(
            c._notices.GetNotice, notice_pb2.GetNoticeRequest(reference=reference)
        )
        return response.notice

    async def list(
        self,
        *,
        kind: int = 0,
        originating_state: str = "",
        unacknowledged_only: bool = False,
        include_expired: bool = False,
        page_size: int = 0,
    ) -> AsyncIterator[notice_pb2.Notice]:
        c = self._client
        token = ""
        while True:
            request = notice_pb2.ListNoticesRequest(
                kind=kind,  # type: ignore[arg-type]
                originating_state=originating_state,
                unacknowledged_only=unacknowledged_only,
                include_expired=include_expired,
                page_size=page_size,
                page_token=token,
            )
            response: notice_pb2.ListNoticesResponse = await c._call(
                c._notices.ListNotices, request
            )
            for notice in response.notices:
                yield notice
            token = response.next_page_token
            if not token:
                return

    async def open(self, notice: notice_pb2.Notice) -> OpenedNotice:
        """The content this identity may read, decrypted and checked: every step signed by the
        originator as of its log entry's time, the steps one chain, the content's digest the
        one signed. VerificationError with a clear reason otherwise."""
        c = self._client
        published = await c._signers()

        def verify(step: notice_pb2.NoticeStep) -> str:
            try:
                signed_at = signing_time(
                    step.log_entry, f"notice:{notice.reference}:v{step.version}"
                )
                return published.signers.verify_as_of(
                    step.envelope, NOTICE_PAYLOAD_TYPE, published.revocations, signed_at
                ).signer
            except (EnvelopeError, SignerError) as e:
                raise ValueError(str(e)) from e

        try:
            return open_notice(
                notice, c.identity.certified_id(), c.identity.encryption_keys, verify
            )
        except NoticeError as e:
            raise VerificationError(str(e)) from e


def _content_recipients(notice: notice_pb2.Notice) -> list[str]:
    """The recipients the version in force names."""
    for step in reversed(notice.steps):
        statement = notice_pb2.NoticeStatement.FromString(step.envelope.payload)
        if statement.WhichOneof("step") == "version":
            return list(statement.version.recipients)
    return []
