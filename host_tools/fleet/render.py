"""Rich tables of the fleet's views, for `fleet status`, `fleet watch` and the demo."""
from __future__ import annotations

from rich.table import Table

from .status import ago, status_word, summary

MAX_ROWS = 400   # beyond this a table is a wall: the summary and --json say the rest


def status_table(board_rows: list[dict], title: str) -> Table:
    s = summary(board_rows)
    caption = (f"{s['boards']} boards: {s['online']} online, {s['offline']} offline, {s['never_seen']} never seen, "
               f"{s['faulty']} faulty, {s['seq_gaps']} messages lost (seq gaps), {s['duplicates']} duplicates")
    if len(board_rows) > MAX_ROWS:
        caption += f"; first {MAX_ROWS} rows shown (filter, or --json)"
    t = Table(title=title, caption=caption)
    for col in ("street", "pos", "pole", "device", "status", "mode", "level %", "program", "fw", "release",
                "faults", "rssi", "energy Wh", "boots", "gaps", "seen"):
        t.add_column(col, justify="right" if col in ("pos", "level %", "rssi", "energy Wh", "boots", "gaps") else "left")
    for r in board_rows[:MAX_ROWS]:
        word = status_word(r)
        t.add_row(r["street"], str(r["position"]), r["pole"], r["device_id"],
                  {"online": "[green]online[/]", "offline": "[red]offline[/]"}.get(word, word),
                  r.get("mode") or "-", _num(r.get("level")), r.get("program") or "-", r.get("fw") or "-",
                  _release(r), ", ".join(r["faults"]) or "-", _num(r.get("rssi")), _num(r.get("energy_wh")),
                  str(r.get("boots") or 0), str(r["gaps"]), ago(r.get("last_seen")))
    return t


def _release(r: dict) -> str:
    """Running release, and what is pending on it (docs/ota.md)."""
    running = "-" if r.get("release") is None else str(r["release"])
    return f"{running} -> {r['release_pending']}" if r.get("release_pending") else running


def _num(v) -> str:
    if v is None:
        return "-"
    return f"{v:g}" if isinstance(v, float) else str(v)
