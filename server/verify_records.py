"""`ecx-server verify-log`, second half: every stored record against what its author signed and
what the exchange log recorded, offline.

Each denial's versions are replayed from their signed statements (signatures, hash chain,
status, regime, validity) and held against the log's entries of its writes; each consultation's
steps likewise. Every derived row — a denial's latest version and columns, a consultation's
parties, state and deadline — is recomputed and compared. Conversely every write the log
recorded must be in the store. The first difference is named.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError

from ecx.v1 import audit_pb2, consultation_pb2, denial_pb2
from server.domain.consultation_history import replay_consultation
from server.domain.consultations import ConsultationRules
from server.domain.denial_history import HistoryError, VersionFacts, check_logged, replay
from server.domain.denials import DenialRules
from server.domain.exchange_log import WRITE_ACTIONS
from server.registry import Registry
from server.services.signed import SignedState
from server.store.sqlite import version_record


class RecordsDiffer(Exception):
    """A stored record that is not what was signed and logged; `index` is a log index when
    the difference concerns one."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


@dataclass(frozen=True)
class RecordsReport:
    ok: bool
    message: str
    first_bad_index: int | None = None


def verify_records(
    path: Path,
    registry: Registry,
    denial_rules: DenialRules,
    consultation_rules: ConsultationRules,
) -> RecordsReport:
    """Check every denial and consultation in the store at `path`."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    signed = SignedState(registry, denial_rules)
    try:
        writes = _logged_writes(db)
        issuers, versions = _check_denials(db, signed, denial_rules, writes)
        consultations = _check_consultations(db, signed, consultation_rules, writes, issuers)
        for object_id, (index, _) in sorted(writes.items(), key=lambda item: item[1][0]):
            raise RecordsDiffer(
                f"log entry {index} records {object_id}, which the store does not hold", index
            )
    except RecordsDiffer as e:
        return RecordsReport(False, e.message, e.index)
    except sqlite3.Error as e:
        return RecordsReport(False, f"cannot read the store: {e}")
    finally:
        db.close()
    return RecordsReport(
        True,
        f"{len(issuers)} denials ({versions} versions) and {consultations} consultations"
        " are what their authors signed and the log recorded",
    )


def _logged_writes(db: sqlite3.Connection) -> dict[str, tuple[int, bytes]]:
    """Object id -> (log index, entry) of every write the log recorded as done."""
    actions = [a for kind in WRITE_ACTIONS.values() for a in kind]
    marks = ",".join("?" * len(actions))
    rows = db.execute(
        "SELECT o.object_id, e.idx, e.entry FROM log_objects o JOIN log_entries e"  # noqa: S608
        f" ON e.idx = o.idx WHERE e.outcome = 'OK' AND e.action IN ({marks}) ORDER BY e.idx",
        actions,
    )
    return {str(o): (int(i), bytes(e)) for o, i, e in rows}


def _take(
    writes: dict[str, tuple[int, bytes]], kind: str, reference: str
) -> list[tuple[int, str, bytes]]:
    """The logged writes of one object, taken out of `writes`, in log order."""
    prefix = f"{kind}:{reference}:v"
    found = [(i, o, e) for o, (i, e) in writes.items() if o.startswith(prefix)]
    for _, object_id, _ in found:
        del writes[object_id]
    return sorted(found)


def _rows(db: sqlite3.Connection, sql: str) -> Iterator[tuple[Any, ...]]:
    yield from db.execute(sql)


def _check_denials(
    db: sqlite3.Connection,
    signed: SignedState,
    rules: DenialRules,
    writes: dict[str, tuple[int, bytes]],
) -> tuple[dict[str, str], int]:
    """Replay every denial; returns its issuer by reference and the number of versions."""
    by_denial: dict[int, list[tuple[int, int, int, str, bytes]]] = defaultdict(list)
    for denial_id, seq, version, regime, issuer, record in _rows(
        db,
        "SELECT denial_id, seq, version, regime, issuer, record FROM denial_versions"
        " ORDER BY denial_id, version",
    ):
        by_denial[int(denial_id)].append(
            (int(seq), int(version), int(regime), str(issuer), bytes(record))
        )
    issuers: dict[str, str] = {}
    count = 0
    for row in _rows(
        db,
        "SELECT id, reference, issuer, issuing_state, regime, destination_country, status,"
        " valid_until, renewed_on, version, latest_seq FROM denials ORDER BY id",
    ):
        denial_id, reference = int(row[0]), str(row[1])
        stored = by_denial.pop(denial_id, [])
        try:
            records = [denial_pb2.Denial.FromString(version_record(r[4])) for r in stored]
        except DecodeError as e:
            raise RecordsDiffer(f"denial {reference}: a version does not decode") from e
        try:
            facts = replay(reference, records, signed.verify, rules)
            check_logged(reference, records, facts, _take(writes, "denial", reference))
        except HistoryError as e:
            index = e.index if e.index is not None else _index_of(records, e.version)
            raise RecordsDiffer(str(e), index) from e
        for (_, version, regime, issuer, _), fact in zip(stored, facts, strict=True):
            if (version, regime, issuer) != (fact.version, fact.regime, fact.issuer):
                raise RecordsDiffer(
                    f"denial {reference} v{version}: its version row disagrees with what was"
                    " signed",
                    _index_of(records, version),
                )
        _check_denial_row(reference, row, facts[-1], stored[-1][0], records)
        issuers[reference] = facts[-1].issuer
        count += len(records)
    if by_denial:
        raise RecordsDiffer(f"versions of a denial the store does not list (id {min(by_denial)})")
    return issuers, count


def _index_of(records: list[denial_pb2.Denial], version: int) -> int | None:
    for record in records:
        if record.version == version:
            return int(record.log_index)
    return None


def _check_denial_row(
    reference: str,
    row: tuple[Any, ...],
    latest: VersionFacts,
    latest_seq: int,
    records: list[denial_pb2.Denial],
) -> None:
    expected = (
        latest.issuer,
        latest.issuing_state,
        latest.regime,
        latest.destination_country,
        latest.status,
        latest.valid_until,
        latest.renewed_on,
        latest.version,
        latest_seq,
    )
    if tuple(row[2:]) != expected:
        names = (
            "issuer",
            "issuing state",
            "regime",
            "destination",
            "status",
            "validity",
            "renewal",
            "latest version",
            "latest version's row",
        )
        differs = [n for n, got, want in zip(names, row[2:], expected, strict=True) if got != want]
        raise RecordsDiffer(
            f"denial {reference}: its row's {', '.join(differs)} disagree with its signed"
            f" versions (latest v{latest.version})",
            int(records[-1].log_index),
        )


def _check_consultations(
    db: sqlite3.Connection,
    signed: SignedState,
    rules: ConsultationRules,
    writes: dict[str, tuple[int, bytes]],
    issuers: dict[str, str],
) -> int:
    notified: dict[int, set[str]] = defaultdict(set)
    for participant, consultation_id in _rows(
        db, "SELECT participant, consultation_id FROM consultation_notified"
    ):
        notified[int(consultation_id)].add(str(participant))
    count = 0
    for row in _rows(
        db,
        "SELECT id, reference, requester, responder, regime, state, answer_deadline, opened_on,"
        " decision, version, record FROM consultations ORDER BY id",
    ):
        reference = str(row[1])
        try:
            record = consultation_pb2.Consultation.FromString(bytes(row[10]))
        except DecodeError as e:
            raise RecordsDiffer(f"consultation {reference}: its record does not decode") from e
        try:
            facts = replay_consultation(record, signed.verify, rules)
        except HistoryError as e:
            index = next((ev.log_index for ev in record.events if ev.version == e.version), None)
            raise RecordsDiffer(str(e), index) from e
        responder = facts.responder or issuers.get(facts.denial_references[0], "")
        opened = (
            record.events[0].recorded_at.ToDatetime().date().isoformat() if record.events else ""
        )
        expected = (
            facts.requester,
            responder,
            facts.regime,
            facts.state,
            facts.answer_deadline,
            opened,
            facts.decision,
            len(facts.steps),
        )
        if tuple(row[2:10]) != expected or record.responder != responder:
            raise RecordsDiffer(
                f"consultation {reference}: its row disagrees with its signed steps",
                int(record.events[-1].log_index),
            )
        if notified.pop(int(row[0]), set()) != set(record.notified):
            raise RecordsDiffer(f"consultation {reference}: who was notified differs")
        logged = {o: (i, e) for i, o, e in _take(writes, "consultation", reference)}
        for event, step in zip(record.events, facts.steps, strict=True):
            found = logged.pop(f"consultation:{reference}:v{event.version}", None)
            if found is None or found != (event.log_index, event.log_entry):
                raise RecordsDiffer(
                    f"consultation {reference} v{event.version}: not the step the log recorded",
                    int(event.log_index),
                )
            if audit_pb2.LogEntry.FromString(found[1]).payload_sha256 != step.statement_sha256:
                raise RecordsDiffer(
                    f"consultation {reference} v{event.version}: the log recorded another step",
                    int(event.log_index),
                )
        if logged:
            index = min(i for i, _ in logged.values())
            raise RecordsDiffer(
                f"log entry {index} records a step of consultation {reference} the store does"
                " not hold",
                index,
            )
        count += 1
    return count
