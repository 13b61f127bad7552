"""AuditService: signed checkpoints, proofs and entries of the exchange log.

Auditors read every entry; other participants read the entries they acted in or whose object is
theirs or addressed to them; anyone authenticated may fetch checkpoints and proofs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import AsyncIterator

from cryptography.hazmat.primitives.asymmetric import ed25519
from google.protobuf.timestamp_pb2 import Timestamp

from client.core.checkpoint import DEFAULT_ORIGIN, Checkpoint, sign_checkpoint, verifier_key
from client.core.merkle import ProofError, verify_consistency
from ecx.v1 import audit_pb2
from server import policy
from server.clock import Clock
from server.domain.exchange_log import Reader, can_read_entry, utc_text
from server.domain.merkle import (
    Span,
    consistency_spans,
    inclusion_spans,
    nodes_needed,
    span_hash,
)
from server.domain.participants import Caller
from server.errors import InfrastructureError, InvalidArgument
from server.services.paging import LOG_PAGE, PositionTokens
from server.store import LogFilter, Store, StoredCheckpoint, Transaction

log = logging.getLogger(__name__)
_MAX_PAGE = 1000
_ENTRY_BATCH = 4096


class LogIntegrityError(InfrastructureError):
    """The stored log does not extend the last checkpoint the hub signed: it will not sign."""


def _reader(caller: Caller) -> Reader | None:
    """None when the caller may read every entry."""
    return policy.log_reader(caller)


class ExchangeLog:
    """The operations of AuditService over the store's Merkle tree."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        key: ed25519.Ed25519PrivateKey,
        origin: str = DEFAULT_ORIGIN,
    ) -> None:
        self._store = store
        self._clock = clock
        self._key = key
        self._tokens = PositionTokens.from_log_key(key)
        self.origin = origin
        self.verifier_key = verifier_key(origin, key.public_key())
        self._signing = asyncio.Lock()

    async def proof(self, spans: list[Span]) -> list[bytes]:
        """Hashes of the spans, from O(log n) stored nodes read in one query."""
        nodes = await self._store.log_nodes(nodes_needed(spans))
        return [span_hash(s, nodes) for s in spans]

    async def checkpoint(self) -> tuple[StoredCheckpoint, str]:
        """The signed checkpoint for the current tree, signing a new one if the tree grew.

        Never signs a tree that does not extend the last signed checkpoint, nor any tree while
        the stored log is damaged: then the last checkpoint signed stays the answer, so clients
        can still verify against it and find the damage.
        """
        async with self._signing:
            last = await self._store.latest_checkpoint()
            # Read after the checkpoint: a checkpoint is stored only once its tree is committed.
            size, root = await self._store.current_tree_head()
            problem = await self._integrity_problem(last, size, root)
            if problem is not None:
                log.error("exchange log: %s; not signing", problem)
                if last is None:
                    raise LogIntegrityError(problem)
                return last, self.verifier_key
            if last is not None and last.tree_size == size:
                return last, self.verifier_key
            note = sign_checkpoint(Checkpoint(self.origin, size, root), self.origin, self._key)
            stored = StoredCheckpoint(size, root, note)
            signed_at = self._clock.now().isoformat()

            def job(tx: Transaction) -> bytes:
                tx.save_checkpoint(stored, signed_at)
                return b""

            await self._store.append(job)
            return stored, self.verifier_key

    async def _integrity_problem(
        self, last: StoredCheckpoint | None, size: int, root: bytes
    ) -> str | None:
        """Why the tree (size, root) must not be signed, if it must not."""
        if self._store.integrity_problem:
            return f"stored log is damaged: {self._store.integrity_problem}"
        if last is None or last.tree_size == 0:  # every tree extends the empty one
            return None
        if last.tree_size > size:
            return "stored log is shorter than its last signed checkpoint"
        if last.tree_size == size:
            return None if last.root == root else "stored log differs from its last checkpoint"
        proof = await self.proof(consistency_spans(last.tree_size, size))
        try:
            verify_consistency(last.tree_size, size, proof, last.root, root)
        except ProofError:
            return "stored log is inconsistent with its last signed checkpoint"
        return None

    async def get_checkpoint(
        self, caller: Caller, request: audit_pb2.GetCheckpointRequest
    ) -> audit_pb2.GetCheckpointResponse:
        stored, vkey = await self.checkpoint()
        return audit_pb2.GetCheckpointResponse(
            signed_checkpoint=stored.note,
            tree_size=stored.tree_size,
            root_hash=stored.root,
            verifier_key=vkey,
        )

    async def _check_size(self, field: str, size: int) -> None:
        current, _ = self._store.tree_head()
        if size > current:  # perhaps appended by another process sharing the store
            current, _ = await self._store.current_tree_head()
        if size > current:
            raise InvalidArgument.field(field, f"larger than the log ({current} entries)")

    async def get_inclusion_proof(
        self, caller: Caller, request: audit_pb2.GetInclusionProofRequest
    ) -> audit_pb2.GetInclusionProofResponse:
        if request.tree_size == 0:
            raise InvalidArgument.field("tree_size", "must be at least 1")
        await self._check_size("tree_size", request.tree_size)
        if request.leaf_index >= request.tree_size:
            raise InvalidArgument.field("leaf_index", "must be below tree_size")
        proof = await self.proof(inclusion_spans(request.leaf_index, request.tree_size))
        response = audit_pb2.GetInclusionProofResponse(proof=proof)
        found = await self._store.log_entry(request.leaf_index)
        if found is not None:
            entry, actor, parties = found
            reader = _reader(caller)
            if reader is None or can_read_entry(reader, actor, parties):
                response.entry = entry
        return response

    async def get_consistency_proof(
        self, caller: Caller, request: audit_pb2.GetConsistencyProofRequest
    ) -> audit_pb2.GetConsistencyProofResponse:
        if request.first_size == 0:
            raise InvalidArgument.field("first_size", "must be at least 1")
        if request.second_size < request.first_size:
            raise InvalidArgument.field("second_size", "must not be below first_size")
        await self._check_size("second_size", request.second_size)
        spans = consistency_spans(request.first_size, request.second_size)
        return audit_pb2.GetConsistencyProofResponse(proof=await self.proof(spans))

    async def get_entries(
        self, caller: Caller, request: audit_pb2.GetEntriesRequest
    ) -> AsyncIterator[audit_pb2.GetEntriesResponse]:
        if request.end < request.start:
            raise InvalidArgument.field("end", "must not be below start")
        await self._check_size("end", request.end)
        async for page in self._store.log_entries(
            request.start, request.end, _reader(caller), _ENTRY_BATCH
        ):
            indexes, entries = zip(*page, strict=True)
            yield audit_pb2.GetEntriesResponse(indexes=indexes, entries=entries)

    async def query_log(
        self, caller: Caller, request: audit_pb2.QueryLogRequest
    ) -> audit_pb2.QueryLogResponse:
        if request.page_size > _MAX_PAGE:
            raise InvalidArgument.field("page_size", f"at most {_MAX_PAGE}")
        size = request.page_size or 100
        flt = LogFilter(
            reader=_reader(caller),
            since=_time_bound(request, "since"),
            until=_time_bound(request, "until"),
            actor=_bounded("actor", request.actor),
            action=_bounded("action", request.action),
            objects=object_ranges(_bounded("object_id", request.object_id)),
            outcome=_bounded("outcome", request.outcome),
        )
        after = self._tokens.open(LOG_PAGE, caller.id, request.page_token, first=-1)
        rows = await self._store.query_log(flt, after, size + 1)
        response = audit_pb2.QueryLogResponse(
            entries=[audit_pb2.LoggedEntry(index=i, entry=e) for i, e in rows[:size]]
        )
        if len(rows) > size:
            response.next_page_token = self._tokens.seal(LOG_PAGE, caller.id, rows[size - 1][0])
        return response


_OBJECT = re.compile(
    r"(?:(?P<kind>denial|consultation|notice):)?(?P<reference>[A-Z]{2}-[A-Za-z0-9][A-Za-z0-9./_-]{0,61})"
    r"(?::v(?P<version>[1-9][0-9]{0,9}))?"
)
_OTHER_OBJECTS = re.compile(r"(?:denial-changes|peer-certificate):[A-Za-z0-9_:./=-]{1,200}")
OBJECT_FORM = (
    "a reference (NL-2026-0001), an object (denial:NL-2026-0001, consultation:DE-C-2026-0007,"
    " notice:NL-N-2026-0003)"
    " or one version of it (denial:NL-2026-0001:v2)"
)


def object_ranges(text: str) -> tuple[tuple[str, str], ...]:
    """What `QueryLog.object_id` asks for, as ranges of object ids: a bare reference names
    every version of the denial, consultation or notice so called, every read and refusal that
    names it; `kind:reference` one object, all its versions; `kind:reference:vN` one version."""
    if not text:
        return ()
    if _OTHER_OBJECTS.fullmatch(text):
        return ((text, text + "\0"),)
    match = _OBJECT.fullmatch(text)
    if match is None:
        raise InvalidArgument.field("object_id", OBJECT_FORM)
    reference, version = match["reference"], match["version"]
    kinds = [match["kind"]] if match["kind"] else ["denial", "consultation", "notice"]
    if version is not None:
        if match["kind"] is None:
            raise InvalidArgument.field("object_id", OBJECT_FORM)
        exact = f"{match['kind']}:{reference}:v{version}"
        return ((exact, exact + "\0"),)
    ranges: list[tuple[str, str]] = []
    for kind in kinds:
        whole = f"{kind}:{reference}"
        # the object itself (a refusal names it so), then its versions ("...:v1" to "...:v9…")
        ranges += [(whole, whole + "\0"), (whole + ":", whole + ";")]
    return tuple(ranges)


def _bounded(field: str, value: str) -> str:
    if len(value) > 200:
        raise InvalidArgument.field(field, "longer than 200 characters")
    return value


def _time_bound(request: audit_pb2.QueryLogRequest, field: str) -> str:
    if not request.HasField(field):
        return ""
    stamp: Timestamp = getattr(request, field)
    try:
        when = stamp.ToDatetime(tzinfo=dt.UTC)
    except (ValueError, OverflowError) as e:
        raise InvalidArgument.field(field, "not a valid time") from e
    return utc_text(when)
