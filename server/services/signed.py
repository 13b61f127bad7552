"""Reads decide on what the authors signed, not on the hub's own columns.

The store keeps, beside each signed record, columns to find it by (regime, status, issuer); a
person with write access to the store file could change them, and a reader would be shown a
revoked denial as active, or a military one as dual-use. So every read takes the answer from the
signed statements themselves — verified, and replayed where a value depends on the history — and
a record that disagrees with its columns is not served as it stands: it is logged for the
operators, and left out or refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Sequence

from google.protobuf.message import DecodeError

from ecx.v1 import common_pb2, denial_pb2
from server.domain.denial_history import (
    HistoryError,
    VersionFacts,
    check_logged,
    latest_facts,
    replay,
)
from server.domain.denials import DenialRules
from server.errors import BadSignature, StoreDamaged
from server.registry import Registry

log = logging.getLogger(__name__)

# Envelopes whose signature this process verified, by digest of everything the check covers.
_VERIFIED_KEPT = 100_000


class SignedState:
    """Verifies stored statements against the registry's keys and replays histories."""

    def __init__(self, registry: Registry, rules: DenialRules) -> None:
        self._registry = registry
        self._rules = rules
        self._verified: OrderedDict[bytes, str] = OrderedDict()
        self._epoch: tuple[int, int] = (0, 0)

    def verify(
        self, envelope: common_pb2.Envelope, payload_type: str, signed_at: dt.datetime
    ) -> str:
        """The signer of a stored envelope as of its signing time (a key revoked since still
        signed it validly then), or ValueError; checked once per process and signing time."""
        signature = envelope.signatures[0] if len(envelope.signatures) == 1 else None
        digest = hashlib.sha256(
            b"\0".join(
                (
                    payload_type.encode(),
                    envelope.payload_type.encode(),
                    envelope.payload,
                    signature.keyid.encode() if signature else b"",
                    signature.sig if signature else b"",
                    signed_at.isoformat().encode(),
                )
            )
        ).digest()
        # What was verified holds while the keys and the CRL it was judged by are in use.
        epoch = (id(self._registry.signing_keys), id(self._registry.revocations))
        if epoch != self._epoch:
            self._verified.clear()
            self._epoch = epoch
        signer = self._verified.get(digest)
        if signer is not None:
            self._verified.move_to_end(digest)
            return signer
        try:
            signer = self._registry.verify_as_of(envelope, payload_type, signed_at).signer
        except BadSignature as e:
            raise ValueError(e.message) from e
        self._verified[digest] = signer
        if len(self._verified) > _VERIFIED_KEPT:
            self._verified.popitem(last=False)
        return signer

    def history(self, reference: str, records: Sequence[denial_pb2.Denial]) -> list[VersionFacts]:
        """Every version's facts; StoreDamaged (logged) if the history does not verify."""
        try:
            return replay(reference, records, self.verify, self._rules)
        except HistoryError as e:
            log.error("store integrity: %s; not served", e)
            raise StoreDamaged(f"the hub's store is damaged at denial {reference}") from e

    def logged_history(
        self,
        reference: str,
        records: Sequence[denial_pb2.Denial],
        logged: Sequence[tuple[int, str, bytes]],
    ) -> list[VersionFacts]:
        """The replayed history, which must also be every version the exchange log recorded:
        StoreDamaged (logged) if a version was deleted, added or replaced."""
        facts = self.history(reference, records)
        try:
            check_logged(reference, records, facts, logged)
        except HistoryError as e:
            log.error("store integrity: %s; not served", e)
            raise StoreDamaged(f"the hub's store is damaged at denial {reference}") from e
        return facts

    def latest(self, reference: str, record: denial_pb2.Denial) -> VersionFacts | None:
        """The latest version's facts, or None (logged) if its record does not verify."""
        try:
            return latest_facts(reference, record, self.verify, self._rules)
        except HistoryError as e:
            log.error("store integrity: %s; left out", e)
            return None


def claimed_regime(record: denial_pb2.Denial) -> int:
    """The regime the record's signed content states, before its signature is checked: enough
    to decide who may be told that the denial exists (a forged one fails verification next)."""
    try:
        return denial_pb2.DenialPayload.FromString(record.envelope.payload).regime
    except DecodeError:
        return 0


def stored_columns_agree(
    reference: str, facts: VersionFacts, *, regime: int, issuer: str | None = None
) -> bool:
    """Whether the columns the store found a record by say what its signed statements say; a
    disagreement is logged for the operators."""
    agree = regime == facts.regime and (issuer is None or issuer == facts.issuer)
    if not agree:
        log.error(
            "store integrity: denial %s v%d: the store's columns disagree with its signed"
            " statements (regime %s, signed %s)",
            reference,
            facts.version,
            regime,
            facts.regime,
        )
    return agree


def claimed_standing(record: denial_pb2.Denial) -> tuple[int, bool]:
    """(regime, revoked) as the latest version's signed statements state them, before their
    signatures are checked: what screening shows of a candidate is its references and the
    evidence of its names, and the denial itself is verified when it is read."""
    revoked = False
    if record.change == denial_pb2.REVOKE:
        try:
            change = denial_pb2.DenialStatusChange.FromString(record.change_envelope.payload)
        except DecodeError:
            change = denial_pb2.DenialStatusChange()
        revoked = change.change == denial_pb2.REVOKE
    return claimed_regime(record), revoked
