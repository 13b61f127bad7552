"""What makes a retry the same request: everything it says, but not the bytes of a signature an
ECDSA signer makes anew each time it signs the same payload."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from client.core.envelope import DENIAL_PAYLOAD_TYPE, sign
from ecx.v1 import consultation_pb2, denial_pb2
from server.services.denials import request_digest
from tests.helpers import military_payload

PAYLOAD = military_payload(reference="NL-2026-0042", state="NL").SerializeToString(
    deterministic=True
)


def _submit(
    envelope_of: bytes,
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey,
    request_id: str = "r-1",
) -> denial_pb2.SubmitDenialRequest:
    return denial_pb2.SubmitDenialRequest(
        request_id=request_id, envelope=sign(envelope_of, DENIAL_PAYLOAD_TYPE, key)
    )


def test_an_ecdsa_retry_is_the_same_request() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    first, retry = _submit(PAYLOAD, key), _submit(PAYLOAD, key)
    assert first.envelope.signatures[0].sig != retry.envelope.signatures[0].sig
    assert request_digest("SubmitDenial", first) == request_digest("SubmitDenial", retry)
    # and the request itself is left as it was
    assert first.envelope.signatures[0].sig


def test_what_the_request_says_still_counts() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    first = request_digest("SubmitDenial", _submit(PAYLOAD, key))
    other_payload = military_payload(reference="NL-2026-0043", state="NL").SerializeToString(
        deterministic=True
    )
    assert request_digest("SubmitDenial", _submit(other_payload, key)) != first
    other_key = ec.generate_private_key(ec.SECP256R1())  # another key id
    assert request_digest("SubmitDenial", _submit(PAYLOAD, other_key)) != first
    assert request_digest("AmendDenial", _submit(PAYLOAD, key)) != first
    assert request_digest("SubmitDenial", _submit(PAYLOAD, key, request_id="r-2")) != first


def test_requests_without_an_envelope_are_digested_whole() -> None:
    a = consultation_pb2.ConsultationStepRequest(request_id="r-1")
    b = consultation_pb2.ConsultationStepRequest(request_id="r-2")
    assert request_digest("RecordDecision", a) != request_digest("RecordDecision", b)
    ed = ed25519.Ed25519PrivateKey.generate()
    assert request_digest("SubmitDenial", _submit(PAYLOAD, ed)) == request_digest(
        "SubmitDenial", _submit(PAYLOAD, ed)
    )
