"""ScreenTransaction: denials in force for an essentially identical transaction, with evidence.

Candidates come from an index of blocking tokens over the denials' consignee and end-user names
and aliases, never from a scan of every denial: the denials sharing the rarest tokens, and among
near ties those for the same destination or with entries in the same part of the control list.
Each candidate is then compared name by name, entry by entry and on destination, and ranked by
one overall score. A person decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar, cast

from client.core import names as matching
from ecx.v1 import consultation_pb2, denial_pb2
from server import policy
from server.clock import Clock
from server.domain.consultations import check_screening
from server.domain.countries import normalize_country
from server.domain.denials import MAX_NAME_WORDS, effective_status, entry_category, entry_item
from server.domain.participants import Caller
from server.errors import InvalidArgument, ResourceExhausted
from server.services.reads import record_read
from server.services.signed import claimed_standing
from server.store import (
    BLOCK_SEPARATOR,
    DenialFilter,
    ScreeningNames,
    ScreeningRow,
    Store,
    Transaction,
)

log = logging.getLogger(__name__)

# How much each kind of evidence weighs in the overall score.
NAME_WEIGHT, ENTRY_WEIGHT, DESTINATION_WEIGHT = 0.70, 0.20, 0.10
ENTRY_SCORES = {"SAME_ENTRY": 1.0, "SAME_SUBTREE": 0.8, "SAME_CATEGORY": 0.5}
RETRIEVE = 32  # candidates compared per screening, the best-ranked by shared rare tokens
MAX_TOKEN_SHARE = 0.05  # blocking tokens shared by more denials than this are too common
MAX_RESULTS = 200
# Comparing names is the costly part of a screening. It runs on threads, so the hub keeps
# answering other calls meanwhile: one screening of each caller at a time, so that one authority
# cannot hold every turn, with up to WAITING_PER_CALLER more of the same caller waiting (beyond
# those a screening is refused); and at most COMPARING_AT_ONCE screenings comparing at once.
COMPARING_AT_ONCE = 2
WAITING_PER_CALLER = 1
# Comparing holds Python's global interpreter lock, which the hub's other threads (the event
# loop, the store's) get back only every few milliseconds while it runs, on every hand-off: a
# screening that has compared more than everyday ones do (PAUSE_AFTER word pairs) pauses PAUSE
# seconds for every PAUSE_EVERY word pairs it compares beyond that (about a third of its time
# here), so that everyone else gets through meanwhile.
PAUSE_AFTER = 2_000
PAUSE_EVERY = 100
PAUSE = 0.001
FINISHED_KEPT = 1_000  # screenings whose work the Screener remembers (see ScreeningWork)

BUDGET_SPENT = (
    "screening stopped: its names need more comparisons than one screening may make; screen "
    "again with fewer aliases or shorter names, or the end-user and the consignee separately"
)
TOO_MANY_AT_ONCE = (
    "screening refused: one screening of yours is in progress and another is waiting; "
    "send this one when one of them has been answered"
)

T = TypeVar("T")


def _stored_key(text: str) -> matching.NameKey:
    return matching.NameKey.from_plain(_decoded_key(text))


@functools.lru_cache(maxsize=20_000)
def _decoded_key(text: str) -> matching.PlainKey:
    """Decoded match keys of recently compared denials, kept between screenings (as tuples, which
    the garbage collector need not visit: see client.core.names). A name recorded before names
    were bounded is compared on its first MAX_NAME_WORDS words."""
    return matching.NameKey.from_json(text).first_words(MAX_NAME_WORDS).plain()


class _Abandoned(Exception):
    """The call a comparison was for has gone: its client cancelled it or its deadline passed."""


class ComparisonBudget:
    """The word pairs one screening may compare, spent by its comparing thread before each pair
    of names; once the call is abandoned the thread stops at its next pair."""

    def __init__(self, caller_id: str, limit: int) -> None:
        self.caller_id = caller_id
        self.limit = limit
        self.spent = 0
        self.spent_when_abandoned: int | None = None
        self._abandoned = threading.Event()
        self._paused_at = 0

    def spend(self, word_pairs: int) -> None:
        """Before comparing a pair of names: stop if the call is gone or the budget would be
        overspent; pause now and then once this is a costly screening."""
        if self._abandoned.is_set():
            raise _Abandoned
        if self.spent + word_pairs > self.limit:
            raise ResourceExhausted(BUDGET_SPENT)
        self.spent += word_pairs
        since = self.spent - self._paused_at
        if self.spent > PAUSE_AFTER and since >= PAUSE_EVERY:
            time.sleep(PAUSE * since / PAUSE_EVERY)
            self._paused_at = self.spent

    def abandon(self) -> None:
        self.spent_when_abandoned = self.spent
        self._abandoned.set()


@dataclass(frozen=True)
class ScreeningWork:
    """What one screening's comparisons cost, and how they ended: "answered", "exhausted" (the
    budget was spent), "abandoned" (the call was cancelled), or "failed"."""

    caller_id: str
    word_pairs: int
    outcome: str
    after_abandoned: int  # word pairs compared after the call was abandoned


class CallerShare:
    """Turns at screening: one screening of each caller at a time, with WAITING_PER_CALLER more
    of its screenings waiting; and COMPARING_AT_ONCE screenings comparing over all callers."""

    def __init__(self, at_once: int, waiting_per_caller: int) -> None:
        self._slots = asyncio.Semaphore(at_once)
        self._waiting_per_caller = waiting_per_caller
        self._admitted: Counter[str] = Counter()
        self._turns: dict[str, asyncio.Lock] = {}

    def admitted(self, caller_id: str) -> int:
        """The caller's screenings in progress or waiting for its turn."""
        return self._admitted[caller_id]

    @contextlib.asynccontextmanager
    async def turn(self, caller_id: str) -> AsyncIterator[None]:
        """The caller's turn, after its screenings before this one; refused if as many as may
        wait are waiting already."""
        if self._admitted[caller_id] > self._waiting_per_caller:
            raise ResourceExhausted(TOO_MANY_AT_ONCE)
        self._admitted[caller_id] += 1
        try:
            async with self._turns.setdefault(caller_id, asyncio.Lock()):
                yield
        finally:
            self._admitted[caller_id] -= 1
            if not self._admitted[caller_id]:
                del self._admitted[caller_id]
                del self._turns[caller_id]

    def slot(self) -> asyncio.Semaphore:
        """One of the COMPARING_AT_ONCE slots for comparing, taken during a caller's turn."""
        return self._slots


def _party_names(prefix: str, party: denial_pb2.Party) -> list[tuple[str, str]]:
    found = [(prefix, party.name)] if party.name.strip() else []
    found += [(f"{prefix}.aliases", a) for a in party.aliases if a.strip()]
    return found


def screening_names(payload: denial_pb2.DenialPayload) -> ScreeningNames:
    """What the screening index keeps of a denial's content; computed when it is recorded."""
    names = _party_names("end_user", payload.end_user) + _party_names(
        "consignee", payload.consignee
    )
    keyed = [(field, name, matching.name_key(name)) for field, name in names]
    return ScreeningNames(
        names=tuple(
            (field, name, key.to_json(), BLOCK_SEPARATOR.join(sorted(matching.index_tokens(key))))
            for field, name, key in keyed
        ),
        control_entries=tuple(payload.control_entries),
    )


async def rebuild_index(store: Store, *, page: int = 500) -> int:
    """Index every denial's latest version again with this hub's name keys, after an upgrade
    that changed how names are keyed. Each page of denials is one write through the store's
    writer, so a hub serving the same store goes on serving. Returns how many were indexed."""
    everything = DenialFilter(regimes=frozenset({denial_pb2.MILITARY, denial_pb2.DUAL_USE}))
    after, indexed = 0, 0
    while rows := await store.list_denials(everything, after, page):
        keyed = []
        for _, record in rows:
            denial = denial_pb2.Denial.FromString(record)
            keyed.append((denial.reference, denial.version, _names_of(denial)))

        def job(tx: Transaction, keyed: list[tuple[str, int, ScreeningNames]] = keyed) -> bytes:
            for reference, version, names in keyed:
                latest = tx.denial_state(reference)
                if latest is not None and latest.version != version:
                    # Changed since the page was read: key the version that is there now.
                    names = _names_of(denial_pb2.Denial.FromString(latest.latest_record))
                tx.index_for_screening(reference, names)
            return b""

        await store.append(job)
        indexed += len(rows)
        after = rows[-1][0]
    return indexed


def _names_of(denial: denial_pb2.Denial) -> ScreeningNames:
    """What the index keeps of a stored version (every version carries the denial's content)."""
    return screening_names(denial_pb2.DenialPayload.FromString(denial.envelope.payload))


def entry_relation(query: str, denied: str) -> str | None:
    """Same entry; same sub-tree (one contains the other, or the same item); same category
    (Annex I category and group, e.g. 3B); else unrelated."""
    if query == denied:
        return "SAME_ENTRY"
    if (
        query.startswith(denied + ".")
        or denied.startswith(query + ".")
        or entry_item(query) == entry_item(denied)
    ):
        return "SAME_SUBTREE"
    if entry_category(query) == entry_category(denied):
        return "SAME_CATEGORY"
    return None


class Screener:
    """Screens a transaction against the denials in the store's screening index."""

    def __init__(self, store: Store, clock: Clock, *, max_word_pairs: int) -> None:
        self._store = store
        self._clock = clock
        self._max_word_pairs = max_word_pairs
        self._share = CallerShare(COMPARING_AT_ONCE, WAITING_PER_CALLER)
        self._running: set[ComparisonBudget] = set()
        self._finished_word_pairs = 0
        self.finished: deque[ScreeningWork] = deque(maxlen=FINISHED_KEPT)

    @property
    def word_pairs_compared(self) -> int:
        """Every word pair this hub process has compared for screenings, running ones included."""
        return self._finished_word_pairs + sum(b.spent for b in self._running)

    def comparing(self) -> list[str]:
        """The callers whose screenings are comparing names now."""
        return sorted(b.caller_id for b in self._running)

    def admitted(self, caller_id: str) -> int:
        return self._share.admitted(caller_id)

    async def screen_transaction(
        self, caller: Caller, request: consultation_pb2.ScreenTransactionRequest
    ) -> consultation_pb2.ScreenTransactionResponse:
        if not request.HasField("transaction"):
            raise InvalidArgument.field("transaction", "is required")
        if request.max_results > MAX_RESULTS:
            raise InvalidArgument.field("max_results", f"at most {MAX_RESULTS}")
        tx = request.transaction
        check_screening(tx)
        async with self._share.turn(caller.id):
            return await self._screen(caller, request)

    async def _screen(
        self, caller: Caller, request: consultation_pb2.ScreenTransactionRequest
    ) -> consultation_pb2.ScreenTransactionResponse:
        tx = request.transaction
        wanted = request.max_results or 20
        query = [
            (field, name, key, matching.query_tokens(key))
            for field, name in _party_names("end_user", tx.end_user)
            + _party_names("consignee", tx.consignee)
            for key in (matching.name_key(name),)
        ]
        tokens: set[str] = set().union(*(blocks for *_, blocks in query))
        destination = normalize_country(tx.destination_country) or ""
        rows, _ = await self._store.screening_candidates(
            tokens,
            RETRIEVE,
            MAX_TOKEN_SHARE,
            destination,
            frozenset(entry_category(e) for e in tx.control_entries),
        )
        today = self._clock.now().date()
        readable = policy.readable_regimes(caller)

        def score(budget: ComparisonBudget) -> list[consultation_pb2.ScreeningCandidate]:
            scored = []
            for row in rows:
                regime, revoked = claimed_standing(denial_pb2.Denial.FromString(row.record))
                if (regime, revoked) != (row.regime, row.status == denial_pb2.REVOKED):
                    log.error(
                        "store integrity: denial %s: the store's columns disagree with its"
                        " signed statements",
                        row.reference,
                    )
                if regime not in readable:
                    continue
                status = effective_status(
                    denial_pb2.REVOKED if revoked else denial_pb2.ACTIVE, row.valid_until, today
                )
                inactive = status != denial_pb2.ACTIVE
                if inactive and not request.include_inactive:
                    continue
                candidate = _compare(query, tx.control_entries, destination, row, budget)
                if candidate is None:
                    continue
                candidate.regime = cast(denial_pb2.Regime, regime)
                candidate.status = cast(denial_pb2.DenialStatus, status)
                candidate.inactive = inactive
                candidate.own_state = row.issuing_state == caller.participant.member_state
                scored.append(candidate)
            return scored

        async with self._share.slot():
            scored = await self._on_thread(caller, score)
        scored.sort(key=lambda c: (-c.score, c.reference))
        response = consultation_pb2.ScreenTransactionResponse(
            candidates=scored[:wanted], denials_compared=len(rows)
        )
        issuers = {row.reference: row.issuer for row in rows}
        await record_read(
            self._store,
            self._clock,
            caller,
            "ScreenTransaction",
            [f"denial:{c.reference}:v{c.version}" for c in response.candidates],
            {issuers[c.reference] for c in response.candidates},
            hashlib.sha256(response.SerializeToString(deterministic=True)).digest(),
        )
        return response

    async def _on_thread(self, caller: Caller, compare: Callable[[ComparisonBudget], T]) -> T:
        """Run `compare` on a thread within the budget; if the call is abandoned meanwhile, stop
        the thread at its next pair of names and wait for it, so the turn is not handed on
        while it still runs."""
        budget = ComparisonBudget(caller.id, self._max_word_pairs)
        work = asyncio.ensure_future(asyncio.to_thread(compare, budget))
        # Whoever waits for it, or not, its exception is taken so none is logged as unretrieved.
        work.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._running.add(budget)
        outcome = "failed"
        try:
            result = await asyncio.shield(work)
            outcome = "answered"
            return result
        except ResourceExhausted:
            outcome = "exhausted"
            raise
        except asyncio.CancelledError:
            outcome = "abandoned"
            budget.abandon()
            await asyncio.wait([work])
            raise
        finally:
            self._running.discard(budget)
            self._finished_word_pairs += budget.spent
            stopped_at = budget.spent_when_abandoned
            after = 0 if stopped_at is None else budget.spent - stopped_at
            self.finished.append(ScreeningWork(caller.id, budget.spent, outcome, after))


def _compare(
    query: list[tuple[str, str, matching.NameKey, set[str]]],
    entries: Iterable[str],
    destination: str,
    row: ScreeningRow,
    budget: ComparisonBudget,
) -> consultation_pb2.ScreeningCandidate | None:
    evidence: dict[str, consultation_pb2.NameEvidence] = {}
    stored_names = [
        (field, name, key, frozenset(blocks.split(BLOCK_SEPARATOR)))
        for field, name, key, blocks in row.names
    ]
    for query_field, query_name, query_key, query_blocks in query:
        side = query_field.split(".", 1)[0]
        for denial_field, denial_name, stored, blocks in stored_names:
            # Names that share no blocking token are not compared, as in retrieval.
            if query_blocks.isdisjoint(blocks):
                continue
            stored_key = _stored_key(stored)
            budget.spend(matching.comparison_cost(query_key, stored_key))
            match = matching.match_names(query_key, stored_key)
            if match is None or match.score < matching.DEFAULT_THRESHOLD:
                continue
            how = (
                "alias"
                if (denial_field.endswith(".aliases") or query_field.endswith(".aliases"))
                and match.how == "exact"
                else match.how
            )
            best = evidence.get(side)
            if best is None or match.score > best.score:
                evidence[side] = consultation_pb2.NameEvidence(
                    field=side,
                    query_name=query_name,
                    denial_field=denial_field,
                    denial_name=denial_name,
                    how=how,
                    score=round(match.score, 4),
                    detail=match.detail,
                )
    if not evidence:
        return None
    relations = []
    for query_entry in entries:
        for denied in row.control_entries:
            relation = entry_relation(query_entry, denied)
            if relation is not None:
                relations.append(
                    consultation_pb2.EntryEvidence(
                        query_entry=query_entry, denial_entry=denied, relation=relation
                    )
                )
    name_score = max(e.score for e in evidence.values())
    entry_score = max((ENTRY_SCORES[r.relation] for r in relations), default=0.0)
    same_destination = bool(destination) and destination == row.destination_country
    score = (
        NAME_WEIGHT * name_score
        + ENTRY_WEIGHT * entry_score
        + DESTINATION_WEIGHT * (1.0 if same_destination else 0.0)
    )
    return consultation_pb2.ScreeningCandidate(
        reference=row.reference,
        issuing_state=row.issuing_state,
        regime=cast(denial_pb2.Regime, row.regime),
        score=round(score, 4),
        names=list(evidence.values()),
        entries=relations,
        same_destination=same_destination,
        destination_country=row.destination_country,
        version=row.version,
    )
