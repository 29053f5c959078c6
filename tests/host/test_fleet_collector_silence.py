"""Liveness from silence: a board that stops talking without a Will (a RabbitMQ
node restart publishes none) is shown offline once it has missed its own
telemetry intervals, and online again when it speaks. The uplinks go through
Collector.handle as the broker would deliver them."""
from __future__ import annotations

import json
import time

from host_tools.fleet.collector import SILENT_SLACK_S, SILENT_TELES, Collector
from host_tools.inventory import open_inventory

SITE, BOARD, EVERY = "metz", "240ac4000001", 30
SILENT_AFTER = SILENT_TELES * EVERY + SILENT_SLACK_S


def _collector(tmp_path) -> Collector:
    db = tmp_path / "inventory.sqlite"
    open_inventory(db, create=True).close()
    c = Collector(db, SITE, "127.0.0.1", 1, "monitor", "")
    c.listening_since = time.time() - 3600
    return c


def _tele(c: Collector, seq: int, ts: int) -> None:
    c.handle(f"pl/{SITE}/{BOARD}/tele", json.dumps({"seq": seq, "boot": 1, "ts": ts, "energy_wh": 1.5}).encode(),
             False)


def test_a_board_silent_for_its_telemetry_intervals_is_offline_until_it_speaks(tmp_path):
    c = _collector(tmp_path)
    for seq in (1, 2, 3):          # an outbox drain: they arrive together, made EVERY s apart
        _tele(c, seq, 1796000000 + seq * EVERY)
    view = c.views[BOARD]
    heard = view.last_seen
    assert view.online is True and view.tele_every == EVERY
    assert c.sweep_silent(heard + SILENT_AFTER - 1) == []
    assert c.sweep_silent(heard + SILENT_AFTER + 1) == [BOARD]
    assert view.online is False and view.status_at == heard + SILENT_AFTER + 1
    assert ("status", "offline") in [(kind, body) for _, kind, body, _ in c.history.pending]   # in the history too
    _tele(c, 4, 1796000000 + 4 * EVERY)
    assert view.online is True
    links = [body for _, kind, body, _ in c.history.pending if kind == "status"]
    assert links[-2:] == ["offline", "online"], "back online in the view but not in the history (uptime)"


def test_silence_while_the_collector_was_not_listening_is_not_the_boards(tmp_path):
    c = _collector(tmp_path)
    for seq in (1, 2):
        _tele(c, seq, 1796000000 + seq * EVERY)
    heard = c.views[BOARD].last_seen
    c.listening_since = None                       # the collector's own link is down
    assert c.sweep_silent(heard + 10 * SILENT_AFTER) == []
    c.listening_since = heard + 10 * SILENT_AFTER  # back: the board gets its intervals again from here
    assert c.sweep_silent(heard + 10 * SILENT_AFTER + SILENT_AFTER - 1) == []
    assert c.views[BOARD].online is True


def test_a_board_without_two_teles_or_a_clock_is_never_called_silent(tmp_path):
    c = _collector(tmp_path)
    _tele(c, 1, 1796000000)
    c.handle(f"pl/{SITE}/{BOARD}/tele", json.dumps({"seq": 2, "boot": 1, "ts": None}).encode(), False)
    assert c.sweep_silent(time.time() + 86400) == [] and c.views[BOARD].online is True


def test_a_restarted_collector_knows_each_boards_interval_and_gives_it_one_from_its_start(tmp_path):
    c = _collector(tmp_path)
    for seq in (1, 2):
        _tele(c, seq, 1796000000 + seq * EVERY)
    with open_inventory(c.db) as inv:
        c.flush(inv)
    again = Collector(c.db, SITE, "127.0.0.1", 1, "monitor", "")      # the board died while none ran
    started = again.views[BOARD].last_seen + 600
    again.listening_since = started
    assert again.views[BOARD].tele_every == EVERY
    assert again.sweep_silent(started + SILENT_AFTER - 1) == []
    assert again.sweep_silent(started + SILENT_AFTER + 1) == [BOARD]


def test_two_teles_in_a_row_after_a_stall_do_not_make_the_board_silent_at_its_next(tmp_path):
    c = _collector(tmp_path)
    for seq in (1, 2, 3):
        _tele(c, seq, 1796000000 + seq * EVERY)
    _tele(c, 4, 1796000000 + 3 * EVERY + 1)        # a stalled loop's catch-up: one second after
    view = c.views[BOARD]
    assert view.tele_every == EVERY / 2
    assert c.sweep_silent(view.last_seen + EVERY + 1) == []          # the next tele is a period on: not late
    _tele(c, 5, 1796000000 + 4 * EVERY + 1)
    assert view.tele_every == EVERY                                   # learnt back at once
