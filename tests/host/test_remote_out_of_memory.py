# A command that meets a full heap on the board is tried again: at once with
# the client's spare run given up, then after pauses that let the other tasks
# free what they hold; if it still does not fit it is refused with why: the
# fleet waiting for its answer hears one (a roll-out had counted such a lamp silent).
import asyncio
import sys
import types

import pytest

from host_tools.paths import firmware_module

sys.modules.setdefault("machine", types.ModuleType("machine"))   # not called on this path
remote_module = firmware_module("remote")
Remote = remote_module.Remote
TRIES = len(remote_module.RETRY_PAUSES_MS) + 1

TOPIC = b"pl/metz/d1/cmd/ping"


class Fakes:
    def __init__(self):
        self.acks, self.events = [], []
        self.on_announce = None
        self.spare = True
        self.spare_given_up = 0

    # the MQTT client
    def subscribe(self, topic, qos=1):
        pass

    def resume(self):
        pass

    async def puback(self, token):
        pass

    def give_up_spare(self):
        self.spare = False
        self.spare_given_up += 1

    def take_spare(self):
        self.spare = True

    # the controller: what a ping answers with
    def utc(self):
        return 1796000000

    # uplink and events
    def ack(self, cmd_id, ok, error=None, **extra):
        self.acks.append((cmd_id, ok, error))

    def emit(self, kind, code, detail=None):
        self.events.append((kind, detail))


@pytest.fixture(autouse=True)
def pauses(monkeypatch) -> list[int]:
    """The board's asyncio.sleep_ms, recorded (no waiting: the test is about the order)."""
    taken: list[int] = []

    async def sleep_ms(ms):
        taken.append(ms)
        await asyncio.sleep(0)
    monkeypatch.setattr(asyncio, "sleep_ms", sleep_ms, raising=False)
    return taken


def answer_to(ping_fails: int, ids=("c1",), fakes: Fakes | None = None) -> tuple[list, list, Fakes]:
    """Pings with these ids, the first `ping_fails` of their tries short of heap."""
    fakes = fakes or Fakes()
    remote = Remote({"device": {"id": "d1", "site": "metz"}}, fakes, None, fakes, fakes, fakes, None)
    calls = {"n": 0}
    apply = remote._apply

    def short_of_memory(cmd):
        calls["n"] += 1
        if calls["n"] <= ping_fails:
            raise MemoryError("memory allocation failed, allocating 542 bytes")
        return apply(cmd)

    remote._apply = short_of_memory

    async def messages():
        task = asyncio.ensure_future(remote.run())
        for cmd_id in ids:
            remote.inbox.append((TOPIC, b'{"id": "%s"}' % cmd_id.encode(), None))
        remote.wake.set()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if any(a[0] == ids[-1] for a in fakes.acks) or task.done():
                break
        task.cancel()

    asyncio.run(messages())
    return fakes.acks, fakes.events, fakes


def test_a_command_short_of_memory_once_is_applied_with_the_clients_spare_run(pauses):
    acks, events, client = answer_to(ping_fails=1)
    assert acks == [("c1", True, None)] and events == []
    assert client.spare_given_up == 1 and client.spare, "the spare run was not given up for it, or not taken again"
    assert pauses == [0]


def test_a_command_short_of_memory_while_other_tasks_hold_the_heap_is_applied_after_pauses(pauses):
    acks, events, client = answer_to(ping_fails=TRIES - 1)
    assert acks == [("c1", True, None)] and events == []
    assert pauses == list(remote_module.RETRY_PAUSES_MS) and sum(pauses) <= 2000, "pauses grow, within 2 s"
    assert client.spare, "the spare run was not taken again"


@pytest.mark.parametrize("fails", [TRIES, TRIES + 3])
def test_a_command_that_never_fits_is_refused_with_why_not_left_silent(fails, pauses):
    acks, events, _ = answer_to(ping_fails=fails)
    assert acks == [("c1", False, "MemoryError: memory allocation failed, allocating 542 bytes")]
    assert events == [("command_failed", "MemoryError: memory allocation failed, allocating 542 bytes")]
    assert len(pauses) == TRIES - 1


class NoRoomToSayWhy(Fakes):
    def emit(self, kind, code, detail=None):
        raise MemoryError("memory allocation failed, allocating 104 bytes")


def test_a_command_that_cannot_even_be_refused_leaves_the_command_task_answering_the_next(pauses):
    # a 1,000-command burst at 96 KB: the refusal's event found no room and the
    # command task died with it; the board never answered a command again
    acks, _, _ = answer_to(ping_fails=TRIES, ids=("c1", "c2"), fakes=NoRoomToSayWhy())
    assert acks == [("c2", True, None)]
