"""Several simulator processes (shards) over one set of lamps, and the control
client that reaches every shard's socket as one district."""
from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ...broker.files import write_private
from .injection import Injection


class SimError(RuntimeError):
    pass


class Shard:
    def __init__(self, home: Path, index: int, configs: list[dict], options: dict):
        self.index = index
        self.lamps_file = write_private(home / f"shard{index}.json", json.dumps(configs))
        self.socket = home / f"shard{index}.sock"
        self.log = home / f"shard{index}.log"
        self.options = options
        self.proc: subprocess.Popen | None = None
        self.devices = [c["device"]["id"] for c in configs]

    def start(self) -> None:
        self.socket.unlink(missing_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-m", "host_tools.fleet.sim.district", str(self.lamps_file),
                                      str(self.socket), json.dumps(self.options)],
                                     stdout=subprocess.DEVNULL, stderr=self.log.open("ab"), start_new_session=True)

    def call(self, req: dict, timeout: float = 30.0) -> dict:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(timeout)
            s.connect(str(self.socket))
            s.sendall(json.dumps(req).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        reply = json.loads(data)
        if not reply.get("ok"):
            raise SimError(f"shard {self.index}: {reply.get('error')}")
        return reply

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class SimFleet:
    """`processes` shards over `configs` (lamp i goes to shard i % processes).

        sim = SimFleet(home, enrol(...), processes=2, tele_s=30).start()
        sim.wait_connected()
        sim.inject([Injection("refuse", 0.03, "program")])
    """

    def __init__(self, home: Path, configs: list[dict], processes: int = 1, injections: list[Injection] = (),
                 seed: int = 0, tele_s: float | None = None, clock_offset: int = 0, backoff_max: float = 60.0):
        home.mkdir(parents=True, exist_ok=True)
        options = {"injections": [i.to_dict() for i in injections], "seed": seed, "tele_s": tele_s,
                   "clock_offset": clock_offset, "backoff_max": backoff_max}
        n = max(1, min(processes, len(configs)))
        self.shards = [Shard(home, k, configs[k::n], options) for k in range(n)]
        self.devices = [c["device"]["id"] for c in configs]
        self._where = {d: s for s in self.shards for d in s.devices}

    def start(self) -> "SimFleet":
        for s in self.shards:
            s.start()
        deadline = time.monotonic() + 60
        for s in self.shards:
            while True:   # up once its control socket answers
                try:
                    s.call({"op": "stats"}, timeout=5)
                    break
                except OSError:
                    if s.proc.poll() is not None or time.monotonic() > deadline:
                        raise SimError(f"shard {s.index} did not start: {s.log.read_text()[-800:]}") from None
                    time.sleep(0.1)
        return self

    def stop(self) -> None:
        for s in self.shards:
            s.stop()

    def kill(self) -> None:
        """As a power cut of the whole simulator host."""
        for s in self.shards:
            s.stop(signal.SIGKILL)

    def _each(self, req: dict, devices=None) -> list[dict]:
        if devices is None:
            return [s.call(req) for s in self.shards]
        out = []
        for s in self.shards:
            mine = [d for d in devices if self._where.get(d) is s]
            if mine:
                out.append(s.call({**req, "devices": mine}))
        return out

    def stats(self) -> dict:
        replies = self._each({"op": "stats"})
        return {"lamps": sum(r["lamps"] for r in replies), "connected": sum(r["connected"] for r in replies),
                "connect_errors": sum(r["connect_errors"] for r in replies),
                "last_error": next((r["last_error"] for r in replies if r["last_error"]), "")}

    def wait_connected(self, count: int | None = None, timeout: float = 120.0) -> dict:
        want = len(self.devices) if count is None else count
        deadline = time.monotonic() + timeout
        while True:
            st = self.stats()
            if st["connected"] >= want:
                return st
            if time.monotonic() > deadline:
                raise SimError(f"{st['connected']} of {want} simulated lamps connected within {timeout}s "
                               f"({st['connect_errors']} connect errors, last: {st['last_error']})")
            time.sleep(0.2)

    def lamps(self) -> dict:
        out = {}
        for r in self._each({"op": "lamps"}):
            out.update(r["lamps"])
        return out

    def inject(self, injections: list[Injection], seed: int | None = None) -> None:
        req = {"op": "inject", "injections": [i.to_dict() for i in injections]}
        if seed is not None:
            req["seed"] = seed
        self._each(req)

    def received(self, command_id) -> dict[str, int]:
        """How many times each lamp received the command with this id."""
        out = {}
        for r in self._each({"op": "received", "id": command_id}):
            out.update(r["received"])
        return out

    def power(self, devices, on: bool) -> None:
        self._each({"op": "power", "on": on}, devices)

    def reboot(self, devices) -> None:
        self._each({"op": "reboot"}, devices)

    def skip_seq(self, devices, n: int = 1) -> None:
        self._each({"op": "skip_seq", "n": n}, devices)

    def fault(self, devices, code: str, raised: bool = True) -> None:
        self._each({"op": "fault", "code": code, "raise": raised}, devices)

    def tele(self, devices=None) -> None:
        """A telemetry message from these lamps (all by default) now."""
        self._each({"op": "tele"}, devices)

    def motion(self, devices) -> None:
        self._each({"op": "motion"}, devices)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

