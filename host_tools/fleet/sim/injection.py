"""Failure injection: which lamps misbehave, how, and after which command.

A lamp's place in [0, 1) comes from a hash of its device id and the seed, so
the same lamps fail in every process and every run, and the shares of several
injections never overlap (each takes the next slice of [0, 1))."""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

KINDS = ("refuse", "silent", "drop", "crashloop")


@dataclass(frozen=True)
class Injection:
    kind: str                 # refuse: ack ok:false; silent: no ack, no change; drop: take it, then go
                              # offline for good; crashloop: take it, then reboot every few seconds
    share: float              # of the lamps, 0..1
    on: str | None = None     # the command name that triggers it (None: any)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"injection kind {self.kind!r}: one of {', '.join(KINDS)}")
        if not 0 <= self.share <= 1:
            raise ValueError(f"injection share {self.share!r}: between 0 and 1")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def parse(cls, text: str) -> "Injection":
        """'refuse:0.03' or 'crashloop:0.01:program' (kind:share[:command])."""
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"injection {text!r}: expected kind:share[:command], e.g. refuse:0.03:program")
        try:
            share = float(parts[1])
        except ValueError:
            raise ValueError(f"injection {text!r}: share {parts[1]!r} is not a number") from None
        return cls(parts[0], share, parts[2] if len(parts) == 3 and parts[2] else None)


def place(device_id: str, seed: int = 0) -> float:
    h = hashlib.sha256(f"{seed}:{device_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2 ** 64


def assign(device_id: str, injections: list[Injection], seed: int = 0) -> Injection | None:
    """The injection this lamp is in, if any."""
    u, start = place(device_id, seed), 0.0
    for inj in injections:
        if start <= u < start + inj.share:
            return inj
        start += inj.share
    return None
