"""The storage interface the hub's services are written against."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from server.domain.consultations import ConsultationState
from server.domain.denials import DenialState
from server.domain.exchange_log import Event
from server.domain.merkle import NodeKey


@dataclass(frozen=True)
class DenialRow:
    """The index columns of a denial's latest version."""

    reference: str
    issuer: str
    issuing_state: str
    regime: int
    destination_country: str
    status: int
    valid_until: str
    renewed_on: str
    version: int


BLOCK_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class ScreeningNames:
    """A denial's names for screening: (field, name, serialized match key, the name's blocking
    tokens joined by BLOCK_SEPARATOR), and its control entries."""

    names: tuple[tuple[str, str, str, str], ...]
    control_entries: tuple[str, ...]

    @property
    def tokens(self) -> frozenset[str]:
        """The denial's blocking tokens: those of its names."""
        return frozenset(t for *_, joined in self.names for t in joined.split(BLOCK_SEPARATOR) if t)


@dataclass(frozen=True)
class ScreeningRow:
    """What screening compares for one candidate denial."""

    reference: str
    issuer: str
    issuing_state: str
    regime: int
    destination_country: str
    status: int
    valid_until: str
    version: int
    control_entries: tuple[str, ...]
    names: tuple[tuple[str, str, str, str], ...]
    # The serialized Denial of the latest version: what its issuer signed decides.
    record: bytes = b""


@dataclass(frozen=True)
class DenialFilter:
    """ListDenials filters; empty or zero means any."""

    regimes: frozenset[int]
    issuing_state: str = ""
    destination_country: str = ""
    regime: int = 0
    status: int = 0
    today: str = ""


@dataclass(frozen=True)
class LogFilter:
    """QueryLog filters; empty means any. `reader` limits entries to what a participant may read."""

    reader: tuple[str, ...] | None = None
    since: str = ""
    until: str = ""
    actor: str = ""
    action: str = ""
    # Object ids in any of these [low, high) ranges (an exact id, or all versions of one).
    objects: tuple[tuple[str, str], ...] = ()
    outcome: str = ""


@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class ChangePage:
    """Consecutive denial versions for SyncDenials, already in wire form: `changes` is the
    serialized `changes` field of a SyncDenialsResponse, one entry per version in seq order."""

    count: int
    last_seq: int
    issuers: frozenset[str]
    changes: bytes
    more: bool  # whether versions may follow (the page is as full as asked)


@dataclass(frozen=True)
class ConsultationFilter:
    """ListConsultations: the caller's role in them (0: any), state (0: any), overdue only."""

    participant: str
    role: int = 0
    state: int = 0
    overdue_on: str = ""


@dataclass(frozen=True)
class NoticeRow:
    """The routing metadata of a notice's latest version, all the hub can know of it."""

    reference: str
    originator: str
    originating_state: str
    kind: int
    classification: int
    state: int
    version: int
    content_version: int
    review_date: str


@dataclass(frozen=True)
class StoredNotice:
    """A notice as stored: its row, its originator's steps (serialized NoticeStep, oldest
    first), who may read it, and the recipients' replies (participant, kind, version, step)."""

    id: int
    row: NoticeRow
    steps: tuple[bytes, ...]
    readers: tuple[str, ...]
    replies: tuple[tuple[str, int, int, bytes], ...]


ACKNOWLEDGEMENT, SHARING_REQUEST = 1, 2


@dataclass(frozen=True)
class NoticeFilter:
    """ListNotices: notices `reader` may read (as originator or reader); empty or zero is any."""

    reader: str
    kind: int = 0
    originating_state: str = ""
    # Only those whose current content `reader` has not acknowledged.
    unacknowledged: bool = False
    # Leave out notices past their review date as of this day ("" keeps them).
    in_force_on: str = ""


class Transaction(Protocol):
    """What a write job may do inside the writer's transaction; jobs run on the writer's
    thread, so they are plain functions that must not touch the event loop."""

    def denial_state(self, reference: str) -> DenialState | None: ...

    def save_version(self, row: DenialRow, record: bytes) -> int:
        """Upsert the denial's index row and append the version record; returns its seq."""
        ...

    def index_for_screening(self, reference: str, names: ScreeningNames) -> None:
        """Replace the denial's screening names and tokens with those of its latest content."""
        ...

    def append_event(self, event: Event) -> tuple[int, bytes]:
        """Add an event to the exchange log in this transaction; returns (log index, entry)."""
        ...

    def save_checkpoint(self, checkpoint: StoredCheckpoint, signed_at: str) -> None: ...

    def consultation_state(self, reference: str) -> ConsultationState | None: ...

    def save_consultation(self, state: ConsultationState, notified: Iterable[str]) -> None:
        """Insert or update the consultation with its latest record; add who was notified."""
        ...

    def encryption_key_published(self, participant: str, key_id: str) -> bool:
        """Whether the participant has published this key before."""
        ...

    def save_encryption_key(
        self, participant: str, key_id: str, not_after: str, record: bytes
    ) -> None:
        """Append a published key (record: the serialized PublishedKey), the participant's
        latest from now on."""

    def notice(self, reference: str) -> StoredNotice | None: ...

    def save_notice_step(self, row: NoticeRow, step: bytes, readers: Iterable[str]) -> int:
        """Upsert the notice's row, append the step (in the one feed), add readers; its seq."""
        ...

    def save_notice_reply(
        self, reference: str, participant: str, kind: int, version: int, step: bytes
    ) -> bool:
        """Record a recipient's reply; False if it made that reply to that version before."""
        ...

    def current_key_ids(self, participants: Iterable[str], today: str) -> dict[str, str]:
        """The key id of each participant's current published encryption key."""
        ...


WriteJob = Callable[[Transaction], bytes]


class Store(Protocol):
    """One writer with group commit; reads from a snapshot of committed data."""

    # Why the stored log cannot be trusted, if a check at open found a problem.
    integrity_problem: str | None

    async def write(
        self, caller: str, request_id: str, method: str, request_sha256: bytes, job: WriteJob
    ) -> bytes:
        """Run job once per (caller, request_id) in a committed transaction; retries get the
        first response bytes. The event, domain rows and idempotency record commit together."""
        ...

    async def record(self, events: Iterable[Event]) -> list[int]:
        """Commit exchange events that belong to no domain write; returns their log indexes."""
        ...

    async def append(self, job: WriteJob) -> bytes:
        """Run a job that needs no idempotency record in a committed transaction."""
        ...

    def tree_head(self) -> tuple[int, bytes]:
        """(size, root) of the exchange log as this process last committed or read it."""
        ...

    async def current_tree_head(self) -> tuple[int, bytes]:
        """(size, root) of the exchange log as committed by any process sharing the store."""
        ...

    async def log_nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]: ...

    def log_entries(
        self, start: int, end: int, reader: tuple[str, ...] | None, batch: int
    ) -> AsyncIterator[list[tuple[int, bytes]]]:
        """Batches of (index, entry) in [start, end) that `reader` may read (None: all)."""
        ...

    async def query_log(
        self, flt: LogFilter, after: int, limit: int
    ) -> list[tuple[int, bytes]]: ...

    async def log_entry(self, index: int) -> tuple[bytes, str, list[str]] | None:
        """(entry, actor, parties) of one entry."""
        ...

    async def latest_checkpoint(self) -> StoredCheckpoint | None: ...

    async def screening_candidates(
        self,
        tokens: Iterable[str],
        limit: int,
        max_token_share: float,
        destination: str = "",
        categories: frozenset[str] = frozenset(),
    ) -> tuple[list[ScreeningRow], int]:
        """The `limit` denials sharing the most blocking tokens with the query (tokens held by
        more than `max_token_share` of all denials are too common to block on), preferring among
        near ties those for `destination` and with entries in `categories`; and the count of
        denials."""
        ...

    async def denial_with_log(
        self, reference: str
    ) -> tuple[list[tuple[int, bytes]], list[tuple[int, str, bytes]]]:
        """From one snapshot: (regime, record) of every version, oldest first, and (log index,
        object id, entry) of every write the exchange log recorded as done on the denial."""
        ...

    async def denial_issuers(self, reference: str) -> list[str]:
        """Who signed the denial's versions (its issuer), or [] if there is no such denial."""
        ...

    async def consultation_parties(self, reference: str) -> list[str] | None:
        """The requester, responder and notified participants of a consultation, or None."""
        ...

    async def notice(self, reference: str) -> StoredNotice | None: ...

    async def list_notices(
        self, flt: NoticeFilter, after_id: int, limit: int
    ) -> list[StoredNotice]: ...

    async def consultation(self, reference: str) -> tuple[bytes, list[str]] | None:
        """(record, notified participants) of one consultation."""
        ...

    async def answered(self, caller: str, request_id: str) -> tuple[str, bytes, bytes] | None:
        """(method, request digest, response) of a write the caller made with this request id."""
        ...

    async def list_consultations(
        self, flt: ConsultationFilter, after_id: int, limit: int
    ) -> list[tuple[int, bytes]]: ...

    async def current_encryption_keys(self, today: str) -> list[tuple[str, bytes]]:
        """(participant, serialized PublishedKey) of each participant's latest published key,
        if today is not past its not_after; a key another has followed is never current again."""
        ...

    async def denial_versions(self, reference: str) -> list[tuple[int, bytes]]:
        """(regime, record) of every version, oldest first."""
        ...

    async def list_denials(
        self, flt: DenialFilter, after_id: int, limit: int
    ) -> list[tuple[int, bytes]]:
        """(row id, latest record) of matching denials with id > after_id, in id order."""
        ...

    def changes(
        self, regimes: frozenset[int] | None, after_seq: int, batch: int
    ) -> AsyncIterator[ChangePage]:
        """Pages of up to `batch` versions after `after_seq` in the regimes (None: all), in
        order, until caught up."""
        ...
