"""Generated denials (tests/bench/_names_gen) as valid payloads, for the benchmarks that submit
realistic, distinct denials."""

from __future__ import annotations

from certs.devpki import AUTHORITIES
from ecx.v1 import denial_pb2
from tests.bench._names_gen import DenialSpec, PartySpec
from tests.helpers import dual_use_payload, military_payload


def _party(spec: PartySpec) -> denial_pb2.Party:
    return denial_pb2.Party(
        name=spec.name,
        country=spec.entity.country,
        address="Industrial zone, building 4",
        aliases=spec.aliases,
    )


def payload_of(spec: DenialSpec) -> denial_pb2.DenialPayload:
    """The generated denial as a valid payload, built on the test helpers' defaults."""
    military = spec.regime == "MILITARY"
    if military:
        reason = denial_pb2.Reason(
            criterion=spec.criterion, explanation="Risk assessed under the cited criterion"
        )
    else:
        reason = denial_pb2.Reason(
            ground=denial_pb2.Ground.Value(spec.ground), explanation="Assessed under Art. 15"
        )
    build = military_payload if military else dual_use_payload
    payload = build(
        spec.reference,
        spec.state,
        licence_type=denial_pb2.LicenceType.Value(spec.licence_type),
        originating_authority=AUTHORITIES[spec.issuer][1],
        denial_date=spec.denial_date,
        destination_country=spec.destination,
        end_user=_party(spec.end_user),
        end_use=spec.end_use,
        goods_description=spec.goods,
        control_entries=list(spec.control_entries),
        quantity=spec.quantity,
        value_eur=spec.value_eur,
        reasons=[reason],
        contact=f"denials@{spec.issuer}.example.eu",
    )
    if spec.consignee is None:
        payload.ClearField("consignee")
    else:
        payload.consignee.CopyFrom(_party(spec.consignee))
    return payload
