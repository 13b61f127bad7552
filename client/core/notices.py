"""Sealing a notice to its recipients and opening it again: what the originator's client and each
recipient's client do, and what the hub never can.

The content is encrypted once under a fresh key, with the notice, its version and its originator
as associated data, so a ciphertext moved to another notice or version does not open. The key is
wrapped with HPKE for each recipient; each wrap's `info` binds the notice, the statement that
carries it (its version, originator and recipient list), the content it opens (version and
digest) and the recipient and key it is for, so a wrap copied to another recipient, or a list of
recipients edited by the hub, does not open either. The originator signs the whole statement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from client.core.chain import ChainError, Link, check_chain
from client.core.sealing import (
    EncryptionPrivateKey,
    KeyWrap,
    RecipientKey,
    SealError,
    open_content,
    seal_content,
    unwrap_key,
    wrap_key,
)
from ecx.v1 import notice_pb2

# Dual-use broadcasts go to every member state and the Commission (Reg. 2021/821 Art. 4(4),
# 5(4), 7, 9(2)).
BROADCAST_KINDS = frozenset(
    {
        notice_pb2.CATCH_ALL_DECISION,
        notice_pb2.NATIONAL_MEASURE,
        notice_pb2.TRANSIT_PROHIBITION,
    }
)


class NoticeError(Exception):
    """A notice that does not open, or whose history does not verify, for this reader."""


def content_aad(reference: str, version: int, originator: str) -> bytes:
    """What the content ciphertext is bound to."""
    return b"\0".join(
        (b"ecx notice content v1", reference.encode(), b"%d" % version, originator.encode())
    )


def wrap_info(
    reference: str,
    statement_version: int,
    originator: str,
    recipients: Sequence[str],
    content_version: int,
    content_sha256: bytes,
    recipient: str,
    key_id: str,
) -> bytes:
    """What one key wrap is bound to."""
    return b"\0".join(
        (
            b"ecx notice key v1",
            reference.encode(),
            b"%d" % statement_version,
            originator.encode(),
            ",".join(recipients).encode(),
            b"%d" % content_version,
            content_sha256,
            recipient.encode(),
            key_id.encode(),
        )
    )


def _wraps(
    content_key: bytes,
    recipients: Sequence[RecipientKey],
    info: Callable[[RecipientKey], bytes],
) -> list[notice_pb2.KeyWrap]:
    out = []
    for recipient in recipients:
        wrap = wrap_key(content_key, recipient, info(recipient))
        out.append(
            notice_pb2.KeyWrap(
                participant=wrap.participant,
                key_id=wrap.key_id,
                enc=wrap.enc,
                wrapped_key=wrap.wrapped_key,
            )
        )
    return out


@dataclass(frozen=True)
class Sealed:
    """A version's sealed content, and its key (which the originator keeps, to grant later)."""

    ciphertext: bytes
    content_sha256: bytes
    wraps: list[notice_pb2.KeyWrap]
    content_key: bytes


def seal_version(
    content: notice_pb2.NoticeContent,
    *,
    reference: str,
    version: int,
    originator: str,
    recipients: Sequence[RecipientKey],
    own_key: RecipientKey | None = None,
) -> Sealed:
    """Encrypt the content once and wrap its key for each recipient (sorted by participant),
    and for the originator's own key if given (to open its notice again, and grant it)."""
    plaintext = content.SerializeToString(deterministic=True)
    digest = hashlib.sha256(plaintext).digest()
    content_key, ciphertext = seal_content(plaintext, content_aad(reference, version, originator))
    names = sorted(r.participant for r in recipients)
    everyone = [*recipients, own_key] if own_key is not None else list(recipients)
    wraps = _wraps(
        content_key,
        sorted(everyone, key=lambda r: r.participant),
        lambda r: wrap_info(
            reference, version, originator, names, version, digest, r.participant, r.key_id
        ),
    )
    return Sealed(ciphertext, digest, wraps, content_key)


def grant_wraps(
    content_key: bytes,
    *,
    reference: str,
    statement_version: int,
    originator: str,
    content_version: int,
    content_sha256: bytes,
    recipients: Sequence[RecipientKey],
) -> list[notice_pb2.KeyWrap]:
    """Wraps of an existing content key for participants the originator now shares with."""
    names = sorted(r.participant for r in recipients)
    return _wraps(
        content_key,
        sorted(recipients, key=lambda r: r.participant),
        lambda r: wrap_info(
            reference,
            statement_version,
            originator,
            names,
            content_version,
            content_sha256,
            r.participant,
            r.key_id,
        ),
    )


@dataclass(frozen=True)
class OpenedNotice:
    """What a reader's client made of a notice: the content of the latest version it may read,
    verified; and the facts its originator signed."""

    reference: str
    originator: str
    version: int  # the notice's latest step
    content_version: int
    content: notice_pb2.NoticeContent
    content_sha256: bytes
    content_key: bytes
    kind: int
    classification: int
    recipients: tuple[str, ...]
    withdrawn: str  # the withdrawal's reason, "" while shared


# Verifies one step's envelope as signed at its recorded time; returns the signer or raises.
VerifyStep = Callable[[notice_pb2.NoticeStep], str]


def _statements(
    notice: notice_pb2.Notice, verify: VerifyStep
) -> list[tuple[notice_pb2.NoticeStep, notice_pb2.NoticeStatement]]:
    """The originator's steps, each signed by the originator, for this notice, in one chain."""
    found = []
    for step in notice.steps:
        try:
            statement = notice_pb2.NoticeStatement.FromString(step.envelope.payload)
        except DecodeError as e:
            raise NoticeError(f"{notice.reference} v{step.version}: a step does not decode") from e
        try:
            signer = verify(step)
        except ValueError as e:
            raise NoticeError(f"{notice.reference} v{step.version}: {e}") from e
        if signer != notice.originator or step.signer != signer:
            raise NoticeError(
                f"{notice.reference} v{step.version}: signed by {signer}, not its originator"
            )
        if statement.reference != notice.reference:
            raise NoticeError(
                f"{notice.reference} v{step.version}: the signed statement is about"
                f" {statement.reference}"
            )
        found.append((step, statement))
    try:
        check_chain(
            [
                (s.version, Link.of(st.link) if st.HasField("link") else None, s.envelope.payload)
                for s, st in found
            ]
        )
    except ChainError as e:
        raise NoticeError(f"{notice.reference}: history does not verify at {e}") from e
    if not found or found[0][1].WhichOneof("step") != "version":
        raise NoticeError(f"{notice.reference}: it does not begin with its content")
    if len(found) != notice.version:
        raise NoticeError(
            f"{notice.reference}: the hub says version {notice.version}, the history has"
            f" {len(found)}"
        )
    return found


def open_notice(
    notice: notice_pb2.Notice,
    me: str,
    keys: Mapping[str, EncryptionPrivateKey],
    verify: VerifyStep,
) -> OpenedNotice:
    """The latest content `me` may read, decrypted with one of `keys` (by key id) and checked
    against its signed digest; NoticeError with a clear reason otherwise."""
    steps = _statements(notice, verify)
    contents = {s.version: st.version for s, st in steps if st.WhichOneof("step") == "version"}
    withdrawn = next(
        (st.withdrawal.reason for _, st in steps if st.WhichOneof("step") == "withdrawal"), ""
    )
    # Where `me` may find a wrap: in a content version, or in a grant of one.
    carriers: list[tuple[int, int, Sequence[str], Sequence[notice_pb2.KeyWrap]]] = []
    for step, statement in steps:
        kind = statement.WhichOneof("step")
        if kind == "version":
            v = statement.version
            carriers.append((step.version, step.version, v.recipients, v.wraps))
        elif kind == "grant":
            g = statement.grant
            carriers.append((step.version, g.content_version, g.recipients, g.wraps))
    latest = steps[-1]
    for statement_version, content_version, recipients, wraps in sorted(
        carriers, key=lambda c: (c[1], c[0]), reverse=True
    ):
        mine = [w for w in wraps if w.participant == me]
        if not mine:
            continue
        if me not in recipients and me != notice.originator:
            raise NoticeError(
                f"{notice.reference} v{statement_version}: a key wrap names {me}, who is not"
                " among the recipients the originator signed"
            )
        version = contents[content_version]
        wrap = mine[0]
        key = keys.get(wrap.key_id)
        if key is None:
            raise NoticeError(
                f"{notice.reference} v{statement_version}: sealed to key {wrap.key_id[:16]}…,"
                " which this identity does not hold"
            )
        info = wrap_info(
            notice.reference,
            statement_version,
            notice.originator,
            list(recipients),
            content_version,
            version.content_sha256,
            me,
            wrap.key_id,
        )
        try:
            content_key = unwrap_key(
                KeyWrap(wrap.participant, wrap.key_id, wrap.enc, wrap.wrapped_key), key, info
            )
            plaintext = open_content(
                content_key,
                version.ciphertext,
                content_aad(notice.reference, content_version, notice.originator),
            )
        except SealError as e:
            raise NoticeError(
                f"{notice.reference} v{statement_version}: the content does not open for {me}:"
                f" {e} (moved from another notice, or sealed to other recipients)"
            ) from e
        if hashlib.sha256(plaintext).digest() != version.content_sha256:
            raise NoticeError(f"{notice.reference} v{content_version}: content digest differs")
        try:
            content = notice_pb2.NoticeContent.FromString(plaintext)
        except DecodeError as e:
            raise NoticeError(f"{notice.reference}: the content does not decode") from e
        readers: set[str] = set()
        for _, _, names, _ in carriers:
            readers.update(names)
        return OpenedNotice(
            reference=notice.reference,
            originator=notice.originator,
            version=latest[0].version,
            content_version=content_version,
            content=content,
            content_sha256=version.content_sha256,
            content_key=content_key,
            kind=version.kind,
            classification=version.classification,
            recipients=tuple(sorted(readers)),
            withdrawn=withdrawn,
        )
    raise NoticeError(f"{notice.reference}: no version is sealed to {me}")
