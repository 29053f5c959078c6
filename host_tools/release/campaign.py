"""OTA campaigns: a release as a change kind of the fleet's staged roll-outs
(host_tools/fleet/rollout.py: canary, waves, soak, halt threshold, resume).

The `ota` command is acknowledged at once; the update, the switch and the new
app's probation follow. A wave's soak starts once each of its boards has
settled (confirmed the release, or refused it or rolled back: its `state.ota`
says so), waiting at most the probation bound and the update's own time; give
--max-boots 2 (the update boot and the switch each restart the board). The
soak ends with the board's health: it must run the release, confirmed, else
it refused the release or rolled back (its `ota_failed` / `ota_rolled_back`
event says why) and counts as failed toward the halt threshold."""
from __future__ import annotations

from ..fleet.board_view import BoardView
from ..fleet.changes import register
from .build import Release

DEFAULT_PROBATION_S = 300
UPDATE_S = 180   # an update boot at worst: three tries, their waits, a slow link (firmware lampctl/ota.py)


class FirmwareChange:
    kind = "firmware"

    def __init__(self, release: int, version: str, manifest: str, sha256: str,
                 probation_s: int = DEFAULT_PROBATION_S):
        if not manifest.startswith(("http://", "https://")):
            raise ValueError(f"manifest: {manifest!r} is not an http(s) URL the boards can fetch")
        self.release, self.version, self.manifest, self.sha256 = release, version, manifest, sha256
        self.probation_s = probation_s

    @classmethod
    def of(cls, rel: Release, base_url: str, probation_s: int = DEFAULT_PROBATION_S) -> "FirmwareChange":
        cmd = rel.command(base_url)
        return cls(rel.number, rel.version, cmd["manifest"], rel.sha256, probation_s)

    @classmethod
    def from_dict(cls, d: dict) -> "FirmwareChange":
        return cls(d["release"], d["version"], d["manifest"], d["sha256"], d.get("probation_s", DEFAULT_PROBATION_S))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "release": self.release, "version": self.version, "manifest": self.manifest,
                "sha256": self.sha256, "probation_s": self.probation_s}

    def describe(self) -> str:
        return f"release {self.release} (version {self.version})"

    def prepare(self, inv) -> None:
        pass

    def command(self) -> tuple[str, dict]:
        return "ota", {"version": self.version, "manifest": self.manifest, "sha256": self.sha256,
                       "probation_s": self.probation_s}

    def taken(self, view: BoardView | None) -> bool | None:
        if view is None or view.state_at is None:
            return None
        return view.fw == self.version

    @property
    def settle_s(self) -> float:
        return UPDATE_S + self.probation_s

    def settled(self, view: BoardView | None, baseline: dict) -> bool:
        """The update is over on this board: the release confirmed, or (restarted
        since it was sent) refused or rolled back."""
        if view is None:
            return False
        if view.fw == self.version and view.release == self.release and view.release_pending is None:
            return True
        ended = (f"{self.version} refused", f"{self.version} rolled back")
        return view.boots > baseline.get("boots", 0) and view.release_pending in ended

    def health(self, view: BoardView) -> str | None:
        """After the soak: the board must run the release, confirmed (else it refused it or rolled back)."""
        if view.fw != self.version:
            why = view.release_pending if view.release_pending and self.version in view.release_pending \
                else "refused or rolled back"
            return f"unhealthy: runs {view.fw}, not {self.version} ({why}: see its ota events)"
        if view.release_pending == "on probation":
            return f"unhealthy: {self.version} still on probation (not confirmed: control loop and broker)"
        return None

    def previous(self, view: BoardView | None, settings: dict) -> dict:
        return {"fw": view.fw if view else None}

    def revert(self, inv, previous: dict) -> tuple[str, dict] | str:
        return ("a board that fails a release goes back by itself; to take a confirmed release back, sign a "
                "downgrade (pilotlight release build --number N --downgrade-from M) and roll that out")

    def reverted(self, view: BoardView | None, previous: dict) -> bool | None:
        if view is None or view.state_at is None:
            return None
        return view.fw == previous.get("fw")


register("firmware", FirmwareChange)
