"""ScreenTransaction: denials in force for an essentially identical transaction, with evidence.

Candidates come from an index of blocking tokens over the denials' consignee and end-user names
and aliases, never from a scan of every denial: the denials sharing the rarest tokens, and among
near ties those for the same destination or with entries in the same part of the control list.
Each candidate is then compared name by name, entry by entry and on destination, and ranked by
one overall score. A person decides.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Iterable
from typing import cast

from client.core import names as matching
from ecx.v1 import consultation_pb2, denial_pb2
from server import policy
from server.clock import Clock
from server.domain.consultations import check_screening
from server.domain.countries import normalize_country
from server.domain.denials import MAX_NAME_WORDS, effective_status, entry_category, entry_item
from server.domain.participants import Caller
from server.errors import InvalidArgument
from server.services.reads import record_read
from server.store import (
    BLOCK_SEPARATOR,
    DenialFilter,
    ScreeningNames,
    ScreeningRow,
    Store,
    Transaction,
)

# How much each kind of evidence weighs in the overall score.
NAME_WEIGHT, ENTRY_WEIGHT, DESTINATION_WEIGHT = 0.70, 0.20, 0.10
ENTRY_SCORES = {"SAME_ENTRY": 1.0, "SAME_SUBTREE": 0.8, "SAME_CATEGORY": 0.5}
RETRIEVE = 32  # candidates compared per screening, the best-ranked by shared rare tokens
MAX_TOKEN_SHARE = 0.05  # blocking tokens shared by more denials than this are too common
MAX_RESULTS = 200
COMPARING_AT_ONCE = 2


def _stored_key(text: str) -> matching.NameKey:
    return matching.NameKey.from_plain(_decoded_key(text))


@functools.lru_cache(maxsize=20_000)
def _decoded_key(text: str) -> matching.PlainKey:
    """Decoded match keys of recently compared denials, kept between screenings (as tuples, which
    the garbage collector need not visit: see client.core.names). A name recorded before names
    were bounded is compared on its first MAX_NAME_WORDS words."""
    return matching.NameKey.from_json(text).first_words(MAX_NAME_WORDS).plain()


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

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        # Comparing names is the costly part of a screening (long names with many aliases can
        # take seconds): it runs on threads, so the hub keeps answering other calls meanwhile,
        # and at most this many screenings compare at once.
        self._comparing = asyncio.Semaphore(COMPARING_AT_ONCE)

    async def screen_transaction(
        self, caller: Caller, request: consultation_pb2.ScreenTransactionRequest
    ) -> consultation_pb2.ScreenTransactionResponse:
        if not request.HasField("transaction"):
            raise InvalidArgument.field("transaction", "is required")
        if request.max_results > MAX_RESULTS:
            raise InvalidArgument.field("max_results", f"at most {MAX_RESULTS}")
        tx = request.transaction
        check_screening(tx)
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

        def score() -> list[consultation_pb2.ScreeningCandidate]:
            scored = []
            for row in rows:
                if row.regime not in readable:
                    continue
                status = effective_status(row.status, row.valid_until, today)
                inactive = status != denial_pb2.ACTIVE
                if inactive and not request.include_inactive:
                    continue
                candidate = self._compare(query, tx.control_entries, destination, row)
                if candidate is None:
                    continue
                candidate.status = cast(denial_pb2.DenialStatus, status)
                candidate.inactive = inactive
                candidate.own_state = row.issuing_state == caller.participant.member_state
                scored.append(candidate)
            return scored

        async with self._comparing:
            scored = await asyncio.to_thread(score)
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

    def _compare(
        self,
        query: list[tuple[str, str, matching.NameKey, set[str]]],
        entries: Iterable[str],
        destination: str,
        row: ScreeningRow,
    ) -> consultation_pb2.ScreeningCandidate | None:
        evidence: dict[str, consultation_pb2.NameEvidence] = {}
        for query_field, query_name, query_key, query_blocks in query:
            side = query_field.split(".", 1)[0]
            for denial_field, denial_name, stored, blocks in row.names:
                # Names that share no blocking token are not compared, as in retrieval.
                if query_blocks.isdisjoint(blocks.split(BLOCK_SEPARATOR)):
                    continue
                match = matching.match_names(query_key, _stored_key(stored))
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
