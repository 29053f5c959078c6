"""One uplink message from a board, decoded: which board, which kind, its body.

The contract (docs/protocol.md): `pl/{site}/{device}/{kind}` with kind status
(text), state, tele, event or ack (JSON with seq and ts)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

KINDS = ("status", "state", "tele", "event", "ack")


@dataclass(frozen=True)
class Uplink:
    site: str
    device: str
    kind: str
    body: dict | str          # status: 'online' / 'offline'; the others: the JSON object
    retained: bool
    at: float = field(default_factory=time.time)   # when the fleet received it

    @property
    def seq(self) -> int | None:
        return self._whole("seq")

    @property
    def ts(self) -> int | None:
        """The board's UTC when it made the uplink; None while its clock is unknown."""
        return self._whole("ts")

    def _whole(self, key: str) -> int | None:
        value = self.body.get(key) if isinstance(self.body, dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def decode(topic: str, payload: bytes, retained: bool, at: float | None = None) -> Uplink | None:
    """The uplink in a message, or None for anything that is not one (commands,
    presence, malformed JSON): a broken board must not stop the collector."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != "pl" or parts[3] not in KINDS or parts[2] == "group":
        return None
    at = time.time() if at is None else at
    if parts[3] == "status":
        text = payload.decode(errors="replace")
        return Uplink(parts[1], parts[2], "status", text, retained, at) if text in ("online", "offline") else None
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    return Uplink(parts[1], parts[2], parts[3], body, retained, at) if isinstance(body, dict) else None
