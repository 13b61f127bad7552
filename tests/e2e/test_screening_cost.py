"""What one screening may cost the hub is bounded: names and aliases within limits, a budget of
word pairs per call, no comparing for a call its client gave up, and one turn per caller, so
that one authority's screenings cannot hold up another's. Counted in word pairs, never timed."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from certs.devpki import DevPki
from client.core.names import comparison_cost, name_key
from client.errors import RemoteError
from ecx.v1 import consultation_pb2, denial_pb2
from server.config import Limits
from server.domain.consultations import MAX_SCREENED_ALIASES
from server.domain.denials import MAX_ALIASES, MAX_NAME_WORDS
from server.services.screening import BUDGET_SPENT, RETRIEVE, TOO_MANY_AT_ONCE, screening_names
from server.store import Transaction
from server.store.sqlite import SqliteStore
from tests.helpers import (
    RunningHub,
    costly_denial,
    costly_name,
    costly_party,
    costly_transaction,
    dual_use_payload,
    eventually,
    military_payload,
    party,
    running_hub,
    submitted_by_nl,
)

BUDGET = Limits().max_screening_word_pairs
UNBOUNDED = 10**12  # a budget no screening here reaches: it compares until it is stopped
PAIR_AT_MOST = (MAX_NAME_WORDS + 1) ** 2  # word pairs of the costliest pair of names
EVERYDAY = "Al Noor Armed Forces Supply LLC"  # the end user of FR's denial below


@pytest.fixture(autouse=True)
def _capture_hub_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


def assert_hub_logged_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert "Traceback" not in caplog.text
    assert "code=INTERNAL" not in caplog.text


async def seed_costly(hub: RunningHub) -> None:
    """As many costly NL denials as one screening compares, and one everyday FR denial."""
    rnd = random.Random(20261128)
    async with hub.client("nl") as nl, hub.client("fr") as fr:
        for i in range(RETRIEVE):
            await nl.submit_denial(costly_denial(f"NL-2026-C{i:03d}", rnd))
        await fr.submit_denial(military_payload("FR-2026-0001", "FR"))


def everyday_transaction() -> consultation_pb2.Transaction:
    return consultation_pb2.Transaction(
        regime=denial_pb2.MILITARY,
        destination_country="AE",
        end_user=denial_pb2.Party(name=EVERYDAY, country="AE"),
        control_entries=["ML2.a"],
    )


@pytest.fixture
async def unbounded_hub(pki: DevPki, tmp_path: Path) -> AsyncIterator[RunningHub]:
    """A hub whose screenings may compare without end, with the costly denials stored: a costly
    screening then runs until its client gives up, for as long as a test needs."""
    async with running_hub(pki, tmp_path / "ecx.db", max_screening_word_pairs=UNBOUNDED) as hub:
        await seed_costly(hub)
        yield hub


# Beyond the bounds: refused before anything is compared, naming the field.


def _screening(**parties: denial_pb2.Party) -> consultation_pb2.Transaction:
    return consultation_pb2.Transaction(
        regime=denial_pb2.DUAL_USE,
        destination_country="RU",
        control_entries=["3B001.f"],
        **parties,
    )


_rnd = random.Random(5)
_TOO_LONG = costly_name(_rnd, MAX_NAME_WORDS + 1)
_LONGEST = costly_name(_rnd, MAX_NAME_WORDS)

SCREENING_CASES = [
    pytest.param(
        _screening(end_user=party(_TOO_LONG, "RU")), "transaction.end_user.name", id="name-words"
    ),
    pytest.param(
        _screening(end_user=party("-".join(_TOO_LONG.split()), "RU")),
        "transaction.end_user.name",
        id="name-words-joined-by-hyphens",
    ),
    pytest.param(
        _screening(consignee=party("Technopark", "RU", "Tekhnopark", "Technopark OOO", _TOO_LONG)),
        "transaction.consignee.aliases[2]",
        id="alias-words",
    ),
    pytest.param(
        _screening(end_user=costly_party(_rnd, MAX_SCREENED_ALIASES + 1)),
        "transaction.end_user.aliases",
        id="aliases",
    ),
]


@pytest.mark.parametrize(("transaction", "field"), SCREENING_CASES)
async def test_a_screening_beyond_the_bounds_is_refused_naming_the_field(
    hub: RunningHub,
    caplog: pytest.LogCaptureFixture,
    transaction: consultation_pb2.Transaction,
    field: str,
) -> None:
    async with hub.client("de") as de:
        with pytest.raises(RemoteError) as refused:
            await de.consultations.screen(transaction)
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [f for f, _ in refused.value.violations]
    assert hub.hub.screener.word_pairs_compared == 0
    assert_hub_logged_no_traceback(caplog)


DENIAL_CASES = [
    pytest.param({"end_user": party(_TOO_LONG, "RU")}, "end_user.name", id="name-words"),
    pytest.param(
        {"consignee": party("Technopark", "RU", *[_LONGEST] * (MAX_ALIASES - 1), _TOO_LONG)},
        f"consignee.aliases[{MAX_ALIASES - 1}]",
        id="alias-words",
    ),
]


@pytest.mark.parametrize(("parties", "field"), DENIAL_CASES)
async def test_a_denial_naming_a_party_beyond_the_bounds_is_refused_naming_the_field(
    hub: RunningHub,
    caplog: pytest.LogCaptureFixture,
    parties: dict[str, denial_pb2.Party],
    field: str,
) -> None:
    async with hub.client("nl") as nl:
        with pytest.raises(RemoteError) as refused:
            await nl.submit_denial(dual_use_payload("NL-2026-0001", "NL", **parties))
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [f for f, _ in refused.value.violations]
    assert_hub_logged_no_traceback(caplog)


async def test_names_and_aliases_at_the_bounds_are_accepted(hub: RunningHub) -> None:
    rnd = random.Random(6)
    at_the_bounds = _screening(
        end_user=costly_party(rnd, MAX_SCREENED_ALIASES, stem="Velotrin"),
        consignee=costly_party(rnd, MAX_SCREENED_ALIASES, stem="Velotrin"),
    )
    async with hub.client("nl") as nl, hub.client("de") as de:
        await nl.submit_denial(costly_denial("NL-2026-0001", rnd))
        screened = await de.consultations.screen(at_the_bounds)
    assert list(screened.candidates) == []


# Within the bounds: a budget per call.


async def test_a_costly_screening_within_the_bounds_stops_at_its_budget(
    hub: RunningHub, caplog: pytest.LogCaptureFixture
) -> None:
    """The attack: as many candidates as one screening compares, each with as many aliases of
    the longest names as allowed, screened with as many such names: the call is refused once it
    has compared its budget's worth, and says what to do."""
    await seed_costly(hub)
    screener = hub.hub.screener
    transaction = costly_transaction(random.Random(1))
    async with hub.client("nl") as nl, hub.client("de") as de:
        with pytest.raises(RemoteError) as exhausted:
            await nl.consultations.screen(transaction)
        assert exhausted.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert exhausted.value.message == BUDGET_SPENT
        work = screener.finished[-1]
        assert (work.caller_id, work.outcome) == ("nl", "exhausted")
        assert BUDGET - PAIR_AT_MOST < work.word_pairs <= BUDGET
        assert screener.word_pairs_compared == work.word_pairs

        # An everyday screening uses a small part of the budget.
        screened = await de.consultations.screen(everyday_transaction())
    assert [c.reference for c in screened.candidates] == ["FR-2026-0001"]
    everyday = screener.finished[-1]
    assert (everyday.caller_id, everyday.outcome) == ("de", "answered")
    assert 0 < everyday.word_pairs < BUDGET // 100
    assert_hub_logged_no_traceback(caplog)


async def test_a_name_stored_before_the_bounds_is_compared_on_its_first_words(
    pki: DevPki, tmp_path: Path
) -> None:
    """A denial recorded by an earlier hub may carry a name of many more words than allowed
    now: screening still compares it, on its first MAX_NAME_WORDS words."""
    store = tmp_path / "ecx.db"
    short = "Zephyrine Marlowe Avionics"
    legacy = " ".join([short, *(["Kev Tor Ulm"] * 20)])
    assert len(name_key(legacy).parts) > 2 * MAX_NAME_WORDS
    await submitted_by_nl(pki, store, [dual_use_payload("NL-2026-0001", "NL")])
    earlier = dual_use_payload("NL-2026-0001", "NL", end_user=party(short, "RU", legacy))

    def index(tx: Transaction) -> bytes:
        tx.index_for_screening("NL-2026-0001", screening_names(earlier))
        return b""

    async with SqliteStore(store) as written_before:
        await written_before.append(index)

    async with running_hub(pki, store) as hub, hub.client("de") as de:
        screened = await de.consultations.screen(_screening(end_user=party(short, "RU")))
        work = hub.hub.screener.finished[-1]
    assert [c.reference for c in screened.candidates] == ["NL-2026-0001"]
    query = name_key(short)
    assert work.word_pairs == comparison_cost(query, query) + comparison_cost(
        query, name_key(legacy).first_words(MAX_NAME_WORDS)
    )


# A call its client gave up.


@pytest.mark.parametrize("give_up", ["cancel", "deadline"])
async def test_a_screening_its_client_gave_up_compares_no_further(
    unbounded_hub: RunningHub, caplog: pytest.LogCaptureFixture, give_up: str
) -> None:
    hub = unbounded_hub
    screener = hub.hub.screener
    timeout = 2.0 if give_up == "deadline" else 300.0
    async with hub.client("nl", timeout=timeout) as nl:
        call = asyncio.create_task(nl.consultations.screen(costly_transaction(random.Random(2))))
        await eventually(lambda: screener.comparing() == ["nl"])
        await eventually(lambda: screener.word_pairs_compared > 0)
        if give_up == "cancel":
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
        else:
            with pytest.raises(RemoteError) as expired:
                await call
            assert expired.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        # The comparing thread is waited for before the call's turn is given up.
        await eventually(lambda: screener.admitted("nl") == 0)
    assert screener.comparing() == []
    work = screener.finished[-1]
    assert (work.caller_id, work.outcome) == ("nl", "abandoned")
    assert work.after_abandoned <= PAIR_AT_MOST
    assert screener.word_pairs_compared == work.word_pairs
    assert_hub_logged_no_traceback(caplog)


# One turn per caller.


async def test_one_callers_costly_screenings_leave_others_their_turn(
    unbounded_hub: RunningHub, caplog: pytest.LogCaptureFixture
) -> None:
    """NL runs two costly screenings at once: one compares, the other waits for NL's turn, and
    DE's everyday screening is answered meanwhile. A third of NL's at once is refused."""
    hub = unbounded_hub
    screener = hub.hub.screener
    transaction = costly_transaction(random.Random(3))
    async with hub.client("nl", timeout=300) as nl, hub.client("de") as de:
        first = asyncio.create_task(nl.consultations.screen(transaction))
        await eventually(lambda: screener.comparing() == ["nl"])
        second = asyncio.create_task(nl.consultations.screen(transaction))
        await eventually(lambda: screener.admitted("nl") == 2)

        screened = await de.consultations.screen(everyday_transaction())
        assert [c.reference for c in screened.candidates] == ["FR-2026-0001"]
        assert not first.done()
        assert not second.done()
        assert screener.comparing() == ["nl"]  # NL's second is still waiting for its turn

        with pytest.raises(RemoteError) as refused:
            await nl.consultations.screen(transaction)
        assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert refused.value.message == TOO_MANY_AT_ONCE
        assert screener.admitted("nl") == 2

        first.cancel()
        second.cancel()
        await asyncio.gather(first, second, return_exceptions=True)
        await eventually(lambda: screener.admitted("nl") == 0)
    outcomes = [(w.caller_id, w.outcome) for w in screener.finished]
    assert outcomes == [("de", "answered"), ("nl", "abandoned")]
    assert_hub_logged_no_traceback(caplog)
