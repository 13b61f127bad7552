"""Exchange events and the leaf data of the exchange log (DESIGN.md §5).

An entry names who did what to which object, with digests only: never confidential content, so
every auditor can read every entry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp

from ecx.v1 import audit_pb2

OK = "OK"
UNAUTHENTICATED_ACTOR = "unauthenticated"

# The actions that write each kind of object: their OK entries name the versions they created.
WRITE_ACTIONS = {
    "denial": ("SubmitDenial", "AmendDenial", "RevokeDenial", "RenewDenial"),
    "consultation": (
        "OpenConsultation",
        "RespondToConsultation",
        "ExtendConsultation",
        "RecordDecision",
    ),
}


@dataclass(frozen=True)
class Event:
    """One exchange event, before it has a log index."""

    time: dt.datetime
    actor: str
    action: str
    object_ids: tuple[str, ...]
    payload_sha256: bytes
    outcome: str = OK
    # Participants the object belongs or is addressed to: they may read the entry.
    parties: tuple[str, ...] = ()
    # Refused calls a summary entry stands for (0: the entry is one event).
    count: int = 0


def utc_text(when: dt.datetime) -> str:
    """Fixed-width UTC time text, so stored times sort as text."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_entry(index: int, event: Event) -> bytes:
    """The leaf data of an event: its LogEntry, serialized deterministically."""
    stamp = Timestamp()
    stamp.FromDatetime(event.time)
    entry = audit_pb2.LogEntry(
        index=index,
        time=stamp,
        actor=event.actor,
        action=event.action,
        object_ids=event.object_ids,
        payload_sha256=event.payload_sha256,
        outcome=event.outcome,
        parties=event.parties,
        count=event.count,
    )
    return entry.SerializeToString(deterministic=True)


# A party of an entry may name a role rather than a participant: every participant with that role
# may read the entry (the writes of a denial, for everyone who may read the denial).
ROLE_PARTY = "role:"

# Who reads: the participant's id first, then the role parties it answers to.
Reader = tuple[str, ...]


def can_read_entry(reader: Reader, actor: str, parties: tuple[str, ...] | list[str]) -> bool:
    """A non-auditor reads the entries it acted in, or whose object is its own or addressed to
    it or to one of its roles."""
    return actor == reader[0] or any(p in reader for p in parties)
