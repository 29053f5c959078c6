"""What the fleet knows of one board, and how each uplink changes it. Pure:
the collector feeds it, the store keeps it, tests drive it directly.

seq accounting (docs/protocol.md): one counter per boot shared by state, tele,
event and ack, from 1 without a gap. A seq above the highest seen opens a gap
for those between; a late one fills its gap (the outbox may deliver after the
newer state); a seen one again is a duplicate. A new boot starts with its
`boot` event or with a low seq below the highest. Retained messages are
replays and count for neither."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

RESET_CAUSES = {1: "power_on", 2: "hard", 3: "watchdog", 4: "deepsleep", 5: "soft"}
NEW_BOOT_SEQ = 3        # a seq this low below the highest seen is a new boot, not a duplicate
MAX_MISSING = 1000      # a board's open gaps remembered one by one (beyond: counted only)


@dataclass
class BoardView:
    device_id: str
    site_id: str
    online: bool | None = None
    status_at: float | None = None
    last_seen: float | None = None
    level: float | None = None
    mode: str | None = None
    program: str | None = None
    program_hash: str | None = None
    config_hash: str | None = None
    fw: str | None = None
    clock: str | None = None
    faults: list = field(default_factory=list)     # fault codes raised and not cleared
    state_at: float | None = None
    state_seq: int | None = None
    power_w: float | None = None
    energy_wh: float | None = None
    burn_h: float | None = None
    cycles: int | None = None
    rssi: int | None = None
    heap_free: int | None = None
    heap_low: int | None = None
    uptime_s: int | None = None
    dropped: int | None = None
    tele_at: float | None = None
    boots: int = 0
    reset_causes: dict = field(default_factory=dict)
    last_boot_at: float | None = None
    seq_high: int | None = None
    seq_missing: list = field(default_factory=list)
    seq_gaps: int = 0          # gaps of finished boots (the current boot's are len(seq_missing))
    duplicates: int = 0
    messages: int = 0
    release: int | None = None          # the release it runs (state.ota.release)
    release_pending: str | None = None  # the version being installed, or on probation / failed (state.ota)
    tele_ts: int | None = None          # the board's clock in its newest tele
    tele_every: float | None = None     # its telemetry interval: the ts of its last two teles apart

    @property
    def gaps(self) -> int:
        return self.seq_gaps + len(self.seq_missing)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["gaps"] = self.gaps
        return d


TELE_FIELDS = ("power_w", "energy_wh", "burn_h", "cycles", "rssi", "heap_free", "heap_low", "uptime_s", "dropped")


def _ota(ota) -> tuple:
    """(running release, pending note) from a state's `ota` part (older firmware has none)."""
    if not isinstance(ota, dict):
        return None, None
    if ota.get("pending"):
        note = ota["pending"] + (" (paused)" if ota.get("phase") == "paused" else "")
    elif ota.get("probation"):
        note = "on probation"
    elif ota.get("failed"):
        note = f"{ota.get('failed_version')} refused"
    elif ota.get("rolled_back"):
        note = f"{ota.get('failed_version')} rolled back"
    else:
        note = None
    return ota.get("release"), note


def apply(v: BoardView, up) -> bool:
    """Fold one uplink into the view; True when it changed anything worth keeping."""
    v.messages += 1
    v.last_seen = max(v.last_seen or 0, up.at)
    if up.kind == "status":
        online = up.body == "online"
        if v.online != online:
            v.status_at = up.at
        v.online = online
        return True
    body = up.body
    if not up.retained:
        _account_seq(v, up.seq, up.kind == "event" and body.get("kind") == "boot")
    if up.kind == "state":   # a retained one too: it is the last the board published
        v.level, v.mode, v.program = body.get("level"), body.get("mode"), body.get("program")
        v.program_hash, v.config_hash = body.get("program_hash"), body.get("config_hash")
        v.fw, v.clock = body.get("fw"), body.get("clock")
        v.release, v.release_pending = _ota(body.get("ota"))
        v.faults = sorted({f.get("fault") for f in body.get("faults") or () if isinstance(f, dict)} - {None})
        v.state_at, v.state_seq = up.at, up.seq
    elif up.kind == "tele":
        for key in TELE_FIELDS:
            if key in body:
                setattr(v, key, body[key])
        v.tele_at = up.at
        _learn_tele_every(v, up.ts)
    elif up.kind == "event" and body.get("kind") == "boot":
        v.boots += 1
        cause = RESET_CAUSES.get(body.get("reset_cause"), str(body.get("reset_cause")))
        v.reset_causes[cause] = v.reset_causes.get(cause, 0) + 1
        v.last_boot_at = up.at
    elif up.kind == "event" and body.get("kind") == "fault":
        code = body.get("fault")
        if body.get("state") == "raised" and code not in v.faults:
            v.faults = sorted(v.faults + [code])
        elif body.get("state") == "cleared" and code in v.faults:
            v.faults = [f for f in v.faults if f != code]
    return True


def _learn_tele_every(v: BoardView, ts: int | None) -> None:
    """By the board's own clock, so an outbox drain (teles arriving together) does
    not shorten it; a tele older than the newest (a late one) teaches nothing. A
    shorter interval halves it at most: two teles in a row after a stalled loop
    (older firmware sends them) must not make the board silent at its next one."""
    if ts is None or (v.tele_ts is not None and ts <= v.tele_ts):
        return                                   # no clock on the board yet, or a late tele
    if v.tele_ts is not None:
        v.tele_every = max(float(ts - v.tele_ts), (v.tele_every or 0.0) / 2)
    v.tele_ts = ts


def _account_seq(v: BoardView, seq: int | None, boot: bool) -> None:
    if seq is None:
        return
    high = v.seq_high
    if high is None or (boot and seq not in v.seq_missing) or (seq < high and seq <= NEW_BOOT_SEQ
                                                               and seq not in v.seq_missing):
        v.seq_gaps += len(v.seq_missing)
        v.seq_high, v.seq_missing = seq, list(range(1, seq)) if high is not None else []
        return
    if seq > high:
        new = range(high + 1, seq)
        room = MAX_MISSING - len(v.seq_missing)
        v.seq_missing.extend(new[:max(0, room)])
        v.seq_gaps += max(0, len(new) - room)
        v.seq_high = seq
    elif seq in v.seq_missing:
        v.seq_missing.remove(seq)
    else:
        v.duplicates += 1
