"""Issue 9 acceptance: a board's credentials with another board's client id do
not get that board's session, on every broker of the bed, and the board whose id
was tried (a real one: a vboard) is not knocked off.

What the brokers do with it (docs/scale.md): RabbitMQ (the fleet's auth service)
refuses the login; Mosquitto (`use_username_as_clientid`) accepts it under the
credentials' own client id, so the connection is the lending board's own, with
that board's rights only, and the other board's session is untouched."""
from __future__ import annotations

import asyncio

import pytest

from hil_tests.fleet_bed import SITE, broker_args, fleet_json, wait_for
from host_tools.fleet.mqtt_async import AsyncMQTT, ConnectRefused
from host_tools.fleet.watch import Watch


def ping(bed, device) -> dict:
    report = fleet_json(bed, "command", "--site", SITE, "--board", device, *broker_args(bed, "operator"),
                        "--timeout", "10", "ping", "{}")
    return report["boards"][device]


async def impersonate(bed, lender: dict, victim: str) -> tuple[str, list]:
    """Connect with the lender's credentials under the victim's client id and listen on the victim's
    commands while the fleet pings it. (A clean session: a persistent one would be left to the lender's
    real lamp, without its subscriptions, on Mosquitto.)"""
    heard = []
    conn = AsyncMQTT(victim, bed.broker.host, bed.broker.port, lender["username"], lender["password"],
                     clean_session=True, on_message=lambda t, p, r: heard.append(t))
    try:
        await conn.connect()
    except ConnectRefused as e:
        return f"refused: {e}", heard
    try:
        await conn.subscribe([(f"pl/{SITE}/{victim}/cmd/#", 1)])
        assert (await asyncio.to_thread(ping, bed, victim))["outcome"] == "ok"
        return "accepted", heard
    finally:
        await conn.close()


@pytest.mark.cluster_acceptance
def test_a_boards_credentials_under_another_boards_client_id_do_not_take_its_session(bed, running_collector):
    victim = bed.vboard_devices[0]
    lender = bed.configs[0]                 # a simulated lamp's credentials, the lamp itself switched off
    bed.sim.power([lender["device"]["id"]], False)
    watch = Watch(bed.broker.fleet_port, f"pl/{SITE}/{victim}/#", host=bed.broker.fleet_host,
                  username=bed.observer[0], password=bed.observer[1])
    def acks() -> int:
        return sum(t.endswith("/ack") for t, p, r in watch.seen)
    try:
        assert ping(bed, victim)["outcome"] == "ok"
        watch.wait(lambda t, p, r: acks() >= 1, 10, what="the victim's first ack")  # the watch listens
        before = len(watch.seen)
        outcome, heard = asyncio.run(impersonate(bed, lender["mqtt"], victim))
        assert ping(bed, victim)["outcome"] == "ok"
        watch.wait(lambda t, p, r: acks() >= (3 if outcome == "accepted" else 2), 10, what="the victim's acks")
    finally:
        watch.close()
        bed.sim.power([lender["device"]["id"]], True)
    expected = bed.broker.foreign_client_id
    assert outcome.startswith(expected), outcome
    assert heard == []                              # never the victim's commands
    # the victim kept its connection: no Will, no reconnect (which publishes `online` again)
    status_after = [p for t, p, r in watch.seen[before:] if t.endswith("/status") and not r]
    assert status_after == [], status_after
    wait_for(lambda: bed.sim.lamps()[lender["device"]["id"]]["connected"], 30, 0.5, "the lender back online")
