"""The shortest path through the exchange: NL submits, DE reads and re-verifies."""

from tests.helpers import RunningHub, dual_use_payload


async def test_submit_then_another_state_reads_and_verifies(hub: RunningHub) -> None:
    async with hub.client("nl") as nl:
        submitted = await nl.submit_denial(dual_use_payload())
    assert submitted.version == 1
    async with hub.client("de") as de:
        got = await de.get_denial("NL-2026-0001")
        payload = await de.verify_denial(got.denial)
    assert payload.reference == "NL-2026-0001"
    assert got.denial.signer == "nl"
