"""Send a command to many boards and say, per board, what became of it:
`ok`, `refused` (with the board's own error) or `silent` (no answer in time).

Every command carries an id; every board answers it on its `ack` topic. A
retry goes to the silent boards only, one publish each, with the same id: a
board that did apply it but whose answer was lost says `duplicate` and does not
apply it twice (firmware: the last 32 ids)."""
from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as paho

from ..paths import firmware_module
from .board_view import BoardView, apply
from .targets import Target
from .uplink import decode

_commands = firmware_module("commands")

OK, REFUSED, SILENT = "ok", "refused", "silent"


def new_id(prefix: str = "c") -> str:
    """Unique enough for a fleet, short for a board (at most 40 characters)."""
    return f"{prefix}{int(time.time() * 1000):x}{secrets.token_hex(3)}"


def check(name: str, cmd_id: str, fields: dict) -> bytes:
    """The command's payload, checked by the firmware's own validation first: a
    command every board would refuse is refused here, before anything is sent."""
    payload = json.dumps({"id": cmd_id, **fields}, separators=(",", ":")).encode()
    try:
        _commands.parse(name, payload)
    except _commands.CommandError as e:
        raise ValueError(f"{name}: {e}") from None
    return payload


@dataclass
class Outcome:
    cmd_id: str
    name: str
    target: Target
    results: dict[str, tuple[str, str | None]] = field(default_factory=dict)   # device -> (outcome, error)
    strangers: dict[str, dict] = field(default_factory=dict)   # answers from boards outside the target
    answers: dict[str, dict] = field(default_factory=dict)     # device -> its ack (what a command reports back)
    seconds: float = 0.0

    def devices(self, outcome: str) -> list[str]:
        return [d for d, (o, _) in self.results.items() if o == outcome]

    def counts(self) -> dict[str, int]:
        return {k: len(self.devices(k)) for k in (OK, REFUSED, SILENT)}

    def summary(self) -> str:
        c = self.counts()
        return f"ok: {c[OK]}, refused: {c[REFUSED]}, silent: {c[SILENT]}"

    def to_dict(self) -> dict:
        return {"id": self.cmd_id, "command": self.name, "target": self.target.label, "counts": self.counts(),
                "seconds": round(self.seconds, 3),
                "boards": {d: {"outcome": o, **({"error": e} if e else {})} for d, (o, e) in self.results.items()},
                "strangers": self.strangers}


class Commander:
    """One MQTT connection (a fleet operator account) that publishes commands
    and hears every board's answers on pl/{site}/+/ack. With `views` (board
    views to keep current, e.g. loaded from the collector's table) it hears
    every uplink and folds it in: a roll-out judges health from them."""

    def __init__(self, site: str, host: str, port: int, username: str, password: str, tls: dict | None = None,
                 views: dict | None = None):
        self.site = site
        self.views = views
        self.acks: dict[str, dict[str, dict]] = {}    # command id -> device -> ack
        self.cond = threading.Condition()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=username, clean_session=True)
        self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(**tls)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.5, 5)
        self.subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not self.subscribed.wait(15):
            self.close()
            raise ConnectionError(f"no subscription to the acks at {host}:{port} within 15 s (refused login?)")

    def _on_connect(self, client, userdata, flags, reason, props):
        if not reason.is_failure:
            # QoS 0: a burst of 10,000 answers must not overflow a QoS 1 queue at the broker
            client.subscribe(f"pl/{self.site}/+/{'+' if self.views is not None else 'ack'}", 0)

    def _on_message(self, client, userdata, msg):
        if self.views is not None:
            up = decode(msg.topic, msg.payload, msg.retain)
            if up is not None:
                with self.cond:
                    view = self.views.get(up.device)
                    if view is None:
                        view = self.views[up.device] = BoardView(up.device, self.site)
                    apply(view, up)
            if not msg.topic.endswith("/ack"):
                return
        try:
            ack = json.loads(msg.payload)
            cmd_id = ack["id"]
        except (ValueError, KeyError, TypeError):
            return
        device = msg.topic.split("/")[2]
        with self.cond:
            answers = self.acks.get(str(cmd_id))
            if answers is not None:
                answers.setdefault(device, ack)   # the first answer counts; a duplicate says the same
                self.cond.notify_all()

    def expect(self, cmd_id: str) -> None:
        with self.cond:
            self.acks.setdefault(cmd_id, {})

    def view(self, device: str) -> BoardView | None:
        with self.cond:
            return self.views.get(device) if self.views is not None else None

    def publish(self, name: str, payload: bytes, topics) -> None:
        """QoS 1, each publish confirmed by the broker before this returns."""
        infos = [self.client.publish(f"{t}/cmd/{name}", payload, qos=1) for t in topics]
        for info in infos:
            info.wait_for_publish(30)
            if not info.is_published():
                raise ConnectionError(f"the broker did not take the command on {info.mid}")

    def wait(self, cmd_id: str, devices, timeout: float) -> dict[str, dict]:
        """Answers for cmd_id from `devices`, waiting until all answered or timeout."""
        want = set(devices)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = self.acks.get(cmd_id, {})
                if want <= set(got):
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 0.5))
            return dict(got)

    def send(self, name: str, fields: dict, target: Target, timeout: float = 10.0, retries: int = 1,
             cmd_id: str | None = None, on_sent=None) -> Outcome:
        """Send, collect the answers, retry the silent boards `retries` times."""
        cmd_id = cmd_id or new_id()
        payload = check(name, cmd_id, fields)
        started = time.monotonic()
        self.expect(cmd_id)
        self.publish(name, payload, target.topics)
        if on_sent is not None:
            on_sent(cmd_id, payload)
        answers = self.wait(cmd_id, target.devices, timeout)
        for _ in range(retries):
            silent = [d for d in target.devices if d not in answers]
            if not silent:
                break
            self.publish(name, payload, [f"pl/{self.site}/{d}" for d in silent])
            answers = self.wait(cmd_id, target.devices, timeout)
        out = Outcome(cmd_id, name, target, seconds=time.monotonic() - started)
        for d in target.devices:
            ack = answers.get(d)
            if ack is None:
                out.results[d] = (SILENT, None)
            elif ack.get("ok"):
                out.results[d] = (OK, None)
            else:
                out.results[d] = (REFUSED, str(ack.get("error")))
        out.strangers = {d: a for d, a in answers.items() if d not in out.results}
        out.answers = {d: a for d, a in answers.items() if d in out.results}
        with self.cond:
            self.acks.pop(cmd_id, None)
        return out

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
