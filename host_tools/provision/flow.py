"""Provisioning one board, end to end, keyed on its chip id.

connect -> identify -> bind (inventory) -> render -> sync -> self-test -> restart.
The board is recorded `new` before anything is written to it and becomes
`provisioned` only when its attempt passed every step, so a board unplugged
half-way stays not provisioned and the next run picks up from what its flash
already holds (the sync copies only what differs)."""
from __future__ import annotations

import hashlib
import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ..boards import BoardTypeError, load_board_type
from ..broker import credentials
from ..firmware_build import build
from ..inventory import boards, groups, open_inventory, places
from ..inventory.errors import InventoryError, NotFound
from . import micropython_step, render, tls_bundle, transfer
from .flasher import FlashError
from .broker_load import BrokerLoad, BrokerLoadError
from .ports import Port
from .session import BoardError, NoAnswer, Session

SELFTEST = "import json\nfrom lampctl import selftest\nprint(json.dumps(selftest.run()))"
PLACEHOLDER_PASSWORD = "not-made-in-a-dry-run"   # a dry run makes no password; masked anyway
OTA_KEY = "ota.pub"                               # the fleet's release key, as firmware/lampctl/ota.py reads it


class ProvisionError(Exception):
    """A step cannot go on; the message says what to do."""


@dataclass
class Job:
    """What every board of one run shares."""
    db: Path
    net: render.Network
    firmware: dict[str, bytes]          # board path -> compiled file (config.json comes per board)
    firmware_version: str
    board_type: str | None = None       # real boards: the carrier cannot be read from the chip
    pole: str | None = None
    street: str | None = None
    district: str | None = None
    baud: int = 115200
    actor: str | None = None
    dry_run: bool = False
    micropython: micropython_step.Plan | None = None   # the pinned MicroPython, and whether to flash it
    broker: BrokerLoad | None = None    # loads a board's new account before its self-test


@dataclass
class Result:
    port: str
    chip_id: str | None = None
    site: str | None = None
    pole: str | None = None
    state: str | None = None
    ok: bool = False
    step: str = "connect"
    error: str | None = None
    copied: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    bytes_sent: int = 0                 # every byte sent down the line to this board
    seconds: float = 0.0
    selftest: dict | None = None
    config: dict | None = None          # dry run only: what would be written, secrets masked
    flashed: dict | None = None         # MicroPython written with esptool: version, baud, seconds
    needs_flash: bool = False           # failed only because MicroPython must be flashed first

    def to_dict(self) -> dict:
        return asdict(self)


Progress = Callable[[str, float], None]   # (step, fraction of the sync done)


def load_firmware(release: Path | None = None, release_key: str | None = None) -> tuple[dict[str, bytes], str]:
    """The board's files in memory ({board path: bytes}) and their version: the loader and,
    in app slot a, the app from source (release 0) or a signed release folder (docs/ota.md);
    with the fleet's release public key (64 hex digits) as ota.pub, so the board can be updated.
    The version is the firmware's VERSION plus a short hash of the bundle, so two builds of one
    version are told apart."""
    with tempfile.TemporaryDirectory() as tmp:
        manifest = build(Path(tmp), release=release)
        files = {p: (Path(tmp) / p).read_bytes() for p in manifest}
        version = json.loads(files["app/a/manifest.json"])["version"]
    if release_key:
        files[OTA_KEY] = release_key.encode() + b"\n"
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:8]
    return files, f"{version}+{digest}"


def provision_board(port: Port, job: Job, progress: Progress | None = None) -> Result:
    """Provision the board on this port; never raises for a board's trouble: the result says it."""
    run = _Run(port, job, progress)
    t0 = time.monotonic()
    try:
        for attempt in range(2):
            run.step("connect")
            with Session(port.path, job.baud) as session:
                reason = micropython_step.needs_flash(session, job.micropython, _board_type(port, job))
                if reason is None:
                    try:
                        run.on_board(session)
                    finally:
                        if job.dry_run:
                            _release(session)
                    break
            if attempt or job.dry_run:
                raise micropython_step.NeedsFlash(f"{reason}" + (" (dry run: nothing flashed)" if job.dry_run
                                                                  else " after flashing"))
            run.result.flashed = micropython_step.flash(port, job.db, _board_type(port, job), job.micropython,
                                                        reason, run.step, job.actor, run.result)
    except micropython_step.NeedsFlash as e:
        run.result.needs_flash = not job.dry_run and run.result.flashed is None
        run.failed(str(e))
    except (NoAnswer, BoardError, TimeoutError, transfer.SyncError, ProvisionError, render.RenderError,
            InventoryError, BoardTypeError, tls_bundle.TlsBundleError, FlashError, BrokerLoadError, OSError,
            ValueError) as e:
        run.failed(str(e) or type(e).__name__)
    finally:
        run.result.seconds = round(time.monotonic() - t0, 3)
    return run.result


class _Run:
    """One board's way through the steps, and what it leaves in the inventory."""

    def __init__(self, port: Port, job: Job, progress: Progress | None):
        self.port, self.job, self.progress = port, job, progress
        self.result = Result(port=port.path)
        self.attempt: int | None = None   # open while the board is being written

    def step(self, name: str, fraction: float = 0.0) -> None:
        self.result.step = name
        if self.progress:
            self.progress(name, fraction)

    def on_board(self, session: Session) -> None:
        job, result = self.job, self.result
        self.step("identify")
        result.chip_id = session.chip_id()
        board_type = _board_type(self.port, job)
        with open_inventory(job.db) as inv:
            self.step("bind")
            board, pole, site, grps, account = _bind(inv, result.chip_id, board_type, job)
            result.pole, result.site = pole.id, site.id
            self.step("render")
            # A new password each time: it exists in clear only on its way to the board, and its
            # hash is stored once the board has it (a board that failed keeps its old one).
            password = PLACEHOLDER_PASSWORD if job.dry_run else credentials.new_password()
            cfg = render.render(load_board_type(board_type), board, pole, site, grps, board.device_id, password,
                                job.net)
            files = {**job.firmware, "config.json": render.to_bytes(cfg)}
            if job.net.tls_dir:
                files.update(tls_bundle.files(job.net.tls_dir, board.device_id, dry_run=job.dry_run))
            if job.dry_run:
                _dry_run(session, result, cfg, files, board)
                return
            self.attempt = boards.start_attempt(inv, board.chip_id, port=self.port.path, actor=job.actor)
            self.sync(session, inv, board, files)
            # The board holds its new password now: the broker learns it before the self-test logs in.
            credentials.set_password(inv, account.username, password)
            if job.broker is not None:
                self.step("broker")
                job.broker.load(inv)
            self.self_test(session)
            self.step("restart")
            session.leave()
            result.bytes_sent = session.bytes_sent
            board = boards.finish_attempt(inv, self.attempt, ok=True, step="restart", detail=_attempt_detail(result),
                                          firmware_version=job.firmware_version)
            self.attempt = None
            result.state, result.ok = board.state, True

    def sync(self, session: Session, inv, board, files: dict[str, bytes]) -> None:
        self.step("sync")
        manifest = {p: transfer.sha256(b) for p, b in files.items()}
        if transfer.board_matches(session, manifest):
            return
        if board.state in ("provisioned", "commissioned"):   # not provisioned while its flash is half-written
            boards.set_state(inv, board.chip_id, "new", actor=self.job.actor, reason="flash being rewritten")
        report = transfer.sync(session, files, lambda done, total: self.step("sync", done / total),
                               known_different=True)
        self.result.copied, self.result.removed = report.copied, report.removed

    def self_test(self, session: Session) -> None:
        self.step("self-test")
        # In maintenance, whatever the board came in with (a freshly flashed one had no app to
        # stop): outside it, the boot a soft reset runs may copy the new app into ROMFS and reset.
        session.mark_maintenance()
        session.soft_reset()          # a fresh interpreter: the new modules and config, not the old
        session.set_clock(time.time())
        outcome = self.result.selftest = json.loads(session.exec(SELFTEST, timeout=60))
        if not outcome.get("ok"):
            failed = [k for k, v in outcome.items() if isinstance(v, dict) and not v.get("ok")]
            raise ProvisionError(f"self-test failed: {', '.join(failed)} (details in --json)")

    def failed(self, error: str) -> None:
        self.result.error = error
        if self.attempt is not None:
            _record_failure(self.job, self.attempt, self.result)
        elif self.result.chip_id:
            self.result.state = _state(self.job, self.result.chip_id)


def _board_type(port: Port, job: Job) -> str:
    chosen = job.board_type or port.board_type
    if not chosen:
        raise ProvisionError(f"{port.path}: say which carrier board this is with --board-type")
    if port.board_type and job.board_type and port.board_type != job.board_type:
        raise ProvisionError(f"{port.path} is a vboard of type {port.board_type}, not {job.board_type}")
    return chosen


def _bind(inv, chip_id: str, board_type: str, job: Job):
    """Register the board and put it on its pole; its pole, site, groups and broker account."""
    if job.dry_run:
        return _preview_bind(inv, chip_id, job)
    board = boards.register(inv, chip_id, board_type, actor=job.actor)
    if job.pole:
        board = boards.bind_pole(inv, chip_id, job.pole, actor=job.actor)
    elif job.street:
        board = boards.bind_next_free_pole(inv, chip_id, job.street, district=job.district, actor=job.actor)
    if not board.pole_id:
        raise ProvisionError(f"board {chip_id} has no pole: give --pole, --street or --pole-label")
    pole = places.get_pole(inv, board.pole_id)
    account = credentials.ensure_board_account(inv, chip_id)
    return board, pole, places.get_site(inv, pole.site), groups.for_board(inv, chip_id), account


def _preview_bind(inv, chip_id: str, job: Job):
    """What _bind would give, changing nothing (no account yet: None)."""
    board = boards.find(inv, chip_id)
    if board is None:
        raise ProvisionError(f"board {chip_id} is not in the inventory yet: a dry run only shows known boards "
                             f"(run once without --dry-run to register it)")
    pole_id = job.pole or board.pole_id
    if pole_id is None and job.street:
        free = places.next_free_pole(inv, job.street, job.district)
        pole_id = free.id if free else None
    if pole_id is None:
        raise ProvisionError(f"board {chip_id} has no pole: give --pole, --street or --pole-label")
    pole = places.get_pole(inv, pole_id)
    try:
        account = credentials.get_account(inv, board.device_id)
    except NotFound:
        account = None
    grps = groups.for_board(inv, chip_id) if board.pole_id == pole_id else [pole.district_group, pole.street_group]
    return board, pole, places.get_site(inv, pole.site), grps, account


def _dry_run(session: Session, result: Result, cfg: dict, files: dict[str, bytes], board) -> None:
    manifest = {p: transfer.sha256(b) for p, b in files.items()}
    result.copied, result.removed = transfer.plan(manifest, transfer.board_hashes(session, manifest))
    result.config = render.masked(cfg)
    result.state, result.ok, result.step = board.state, True, "dry-run"


def _release(session: Session) -> None:
    """A dry run wrote nothing but the maintenance flag: take it away, let the app run again."""
    try:
        session.leave()
    except (BoardError, TimeoutError, OSError):
        pass   # the board will show up as it is at the next run; the dry run's report stands


def _attempt_detail(result: Result) -> dict:
    return {"copied": len(result.copied), "removed": len(result.removed), "bytes_sent": result.bytes_sent,
            "selftest": result.selftest, "error": result.error}


def _record_failure(job: Job, attempt: int, result: Result) -> None:
    try:
        with open_inventory(job.db) as inv:
            board = boards.finish_attempt(inv, attempt, ok=False, step=result.step, detail=_attempt_detail(result))
            result.state = board.state
    except InventoryError:
        pass   # the failure itself is already in the result; the inventory is what failed


def _state(job: Job, chip_id: str) -> str | None:
    try:
        with open_inventory(job.db) as inv:
            board = boards.find(inv, chip_id)
            return board.state if board else None
    except InventoryError:
        return None
