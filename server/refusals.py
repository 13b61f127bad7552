"""Refused calls: each is an exchange event while refusals are occasional; a flood is counted and
summarised instead, so that nobody — a revoked certificate least of all — can grow the permanent
log, or the hub's work, at will.

Every refusal takes a token from the bucket of whoever was refused: a participant, or for a caller
the hub could not authenticate, the certificate it presented. Buckets refill at a steady rate up
to a burst. An authenticated caller's refusal is logged on its own while its bucket holds a token;
once the bucket is empty the caller's calls are refused as RESOURCE_EXHAUSTED before any work, and
counted. Refusals before authentication are never logged one by one: they are counted per
certificate, and past the bucket answered RESOURCE_EXHAUSTED at once. Counts go into the exchange
log as one entry per (who, method, outcome) and interval, with the number of calls it stands for.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from server.clock import Clock
from server.domain.exchange_log import UNAUTHENTICATED_ACTOR, Event
from server.errors import EcxError
from server.store import Store

log = logging.getLogger(__name__)

# At most this many distinct (who, method, outcome) counts are kept between two summaries; the
# rest of a flood from ever new certificates is folded into one count of "other peers".
MAX_COUNTED = 10_000
OTHER_PEERS = "peer-certificate:other"


@dataclass
class _Bucket:
    tokens: float
    at: float  # the clock's time of the last refill, in seconds


@dataclass(frozen=True)
class _Counted:
    """What one summary entry stands for."""

    actor: str
    peer: str  # object id naming the certificate of an unauthenticated caller, else ""
    method: str
    outcome: str


def peer_certificate(pem: bytes) -> str:
    """The object id of a presented certificate: enough of its SHA-256 to tell peers apart."""
    return "peer-certificate:" + hashlib.sha256(pem).hexdigest()[:32]


class RefusalGuard:
    """Token buckets of refusals per caller and per unauthenticated certificate, and the counts
    of refusals not logged one by one, until the next summary."""

    def __init__(self, store: Store, clock: Clock, *, per_minute: int, burst: int) -> None:
        self._store = store
        self._clock = clock
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._buckets: dict[str, _Bucket] = {}
        self._counts: Counter[_Counted] = Counter()

    def _bucket(self, key: str) -> _Bucket:
        now = self._clock.now().timestamp()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._burst, now)
        elif now > bucket.at:
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at) * self._rate)
            bucket.at = now
        return bucket

    def admits(self, key: str) -> bool:
        """Whether `key` (a participant id or a certificate's object id) may still be refused
        in the ordinary way; False once its refusals have used up its bucket."""
        return self._bucket(key).tokens >= 1.0

    def take(self, key: str) -> bool:
        """Count one refusal against `key`; True if it had a token left for it."""
        bucket = self._bucket(key)
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def count(self, actor: str, peer: str, method: str, outcome: str) -> None:
        """A refusal that goes into the next summary instead of an entry of its own."""
        counted = _Counted(actor, peer, method, outcome)
        if counted not in self._counts and len(self._counts) >= MAX_COUNTED:
            counted = _Counted(actor, OTHER_PEERS if peer else "", "*", outcome)
        self._counts[counted] += 1

    def refused_unauthenticated(self, peer: str, method: str, code: str) -> None:
        self.take(peer)
        self.count(UNAUTHENTICATED_ACTOR, peer, method, code)

    def pending(self) -> Mapping[_Counted, int]:
        return dict(self._counts)

    async def flush(self) -> int:
        """Write the counted refusals to the exchange log, one entry each; returns how many
        refused calls they stand for. Counts that cannot be written are kept for the next."""
        if not self._counts:
            return 0
        counts, self._counts = self._counts, Counter()
        now = self._clock.now()
        events = [
            Event(
                time=now,
                actor=c.actor,
                action=c.method,
                object_ids=(c.peer,) if c.peer else (),
                payload_sha256=hashlib.sha256(
                    f"{c.actor}\n{c.peer}\n{c.method}\n{c.outcome}\n{n}".encode()
                ).digest(),
                outcome=c.outcome,
                parties=() if c.actor == UNAUTHENTICATED_ACTOR else (c.actor,),
                count=n,
            )
            for c, n in sorted(counts.items(), key=lambda item: _order(item[0]))
        ]
        try:
            await self._store.record(events)
        except EcxError as e:
            log.error("refusal summary not logged, kept for the next: %s", e.message)
            self._counts.update(counts)
            return 0
        for c, n in sorted(counts.items(), key=lambda item: _order(item[0])):
            log.warning(
                "%d refused calls of %s by %s%s summarised: %s",
                n,
                c.method,
                c.actor,
                f" ({c.peer})" if c.peer else "",
                c.outcome,
            )
        self._prune()
        return sum(counts.values())

    def _prune(self) -> None:
        """Forget buckets that have refilled: a full bucket and no bucket are the same."""
        now = self._clock.now().timestamp()
        full = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now - b.at) * self._rate >= self._burst
        ]
        for key in full:
            del self._buckets[key]

    async def summarise_every(self, seconds: float) -> None:
        """Run until cancelled: a summary each interval (the hub writes a last one as it stops)."""
        while True:
            await asyncio.sleep(seconds)
            await self.flush()


def _order(c: _Counted) -> tuple[str, str, str, str]:
    return (c.actor, c.peer, c.method, c.outcome)
