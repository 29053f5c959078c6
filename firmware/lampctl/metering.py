# The lamp's energy (Wh), burn hours and on/off cycles, integrated on the
# board from power samples, or estimated from the commanded level and the
# rated power while no monitor reading is available; and the policy that saves
# these counters to flash with a bounded loss and a bounded number of writes.
# Pure logic: time comes in as now_ms (time.ticks_ms() values).
import json

from lampctl.curve import drive_fraction
from lampctl.ticks import ticks_diff
from lampctl.store import read_text, write_atomic

# A save waits at least this long after the previous one: at most 96 writes a day.
SAVE_INTERVAL_MS = 15 * 60 * 1000
WRITES_PER_DAY_MAX = 24 * 3600 * 1000 // SAVE_INTERVAL_MS
# ...and for something worth writing: 1 Wh, a cycle, or a minute of burn time.
SAVE_MIN_MJ = 3600000
SAVE_MIN_BURN_S = 60
MJ_PER_WH = 3600000
FORMAT = 1
COUNTERS_PATH = "meter.json"
FIELDS = ("wh", "mj", "est_wh", "est_mj", "burn_s", "cycles")


def expected_power_w(level, lamp_cfg):
    """Power a healthy lamp draws at `level` %: standby plus its share of the rated span."""
    standby = lamp_cfg["standby_power_w"]
    return standby + (lamp_cfg["rated_power_w"] - standby) * drive_fraction(level, lamp_cfg)


def max_loss_wh(lamp_cfg, sample_ms):
    """Most energy a power cut can lose, drawing at most the rated power."""
    window_ms = SAVE_INTERVAL_MS + sample_ms
    return max(lamp_cfg["rated_power_w"] * window_ms / 3600000, SAVE_MIN_MJ / MJ_PER_WH)


class _Energy:
    """Whole Wh plus a remainder in mJ, in exact integers: a float32 total of
    thousands of Wh would round away the 0.02 Wh a one-second sample adds."""

    def __init__(self, wh=0, mj=0):
        self.wh = wh
        self.mj = mj
        self._half_uj = 0  # below one mJ, carried between samples

    def add(self, two_uj):
        mj, self._half_uj = divmod(self._half_uj + two_uj, 2000)
        if mj:
            self.mj += mj
            if self.mj >= MJ_PER_WH:
                self.wh += self.mj // MJ_PER_WH
                self.mj %= MJ_PER_WH

    def total_mj(self):
        return self.wh * MJ_PER_WH + self.mj

    def value_wh(self):
        return self.wh + self.mj / MJ_PER_WH


class Meter:
    def __init__(self, lamp_cfg, counters=None, now_ms=0):
        """counters: a dict from counters() or load(), or None to start at zero."""
        c = check_counters(counters or {})
        self.lamp = lamp_cfg
        self.energy = _Energy(c["wh"], c["mj"])
        self.estimated_energy = _Energy(c["est_wh"], c["est_mj"])
        self.burn_s = c["burn_s"]
        self.cycles = c["cycles"]
        self.power_w = 0.0
        self.estimated = True
        self._burn_ms = 0
        self._on = False
        self._last_ms = None
        self._last_mw = 0
        self._last_estimated = True
        self._saved_ms = now_ms
        self._saved_mj = self.energy.total_mj()
        self._saved_burn_s = self.burn_s
        self._saved_cycles = self.cycles

    def sample(self, now_ms, level, power_w=None):
        """One sample: the commanded level (0..100 %) and the measured power in W,
        or None while no monitor reading is available (then it is estimated).
        Energy between samples is the trapezoid of their powers, whatever the gap."""
        estimated = power_w is None
        if estimated:
            power_w = expected_power_w(level, self.lamp)
        mw = int(power_w * 1000 + 0.5) if power_w > 0 else 0
        if self._last_ms is not None:
            dt = ticks_diff(now_ms, self._last_ms)
            if dt > 0:
                two_uj = (self._last_mw + mw) * dt
                self.energy.add(two_uj)
                if estimated or self._last_estimated:
                    self.estimated_energy.add(two_uj)
                if self._on:
                    self._burn_ms += dt
                    if self._burn_ms >= 1000:
                        self.burn_s += self._burn_ms // 1000
                        self._burn_ms %= 1000
        on = level > 0
        if on and not self._on:
            self.cycles += 1
        self._on = on
        self._last_ms = now_ms
        self._last_mw = mw
        self._last_estimated = estimated
        self.power_w = power_w
        self.estimated = estimated

    def energy_wh(self):
        return self.energy.value_wh()

    def estimated_wh(self):
        """The part of energy_wh() integrated from estimates rather than measurements."""
        return self.estimated_energy.value_wh()

    def burn_hours(self):
        return self.burn_s / 3600

    def unsaved_wh(self):
        """Energy a power cut now would lose."""
        return (self.energy.total_mj() - self._saved_mj) / MJ_PER_WH

    def replace_lamp(self, now_ms, burn_s=0, path=COUNTERS_PATH):
        """A new lamp is fitted: its burn time starts at `burn_s`, its on/off
        cycles at 0, saved at once; the energy counters are the board's and go
        on. A flash error (OSError) leaves the counters as they were."""
        kept = (self.burn_s, self._burn_ms, self.cycles)
        self.burn_s, self._burn_ms, self.cycles = burn_s, 0, 0
        try:
            self.save(now_ms, path)
        except OSError:
            self.burn_s, self._burn_ms, self.cycles = kept
            raise

    def counters(self):
        e, est = self.energy, self.estimated_energy
        return {"v": FORMAT, "wh": e.wh, "mj": e.mj, "est_wh": est.wh, "est_mj": est.mj,
                "burn_s": self.burn_s, "cycles": self.cycles}

    def save_due(self, now_ms):
        """True when the counters should go to flash now (see SAVE_INTERVAL_MS)."""
        if ticks_diff(now_ms, self._saved_ms) < SAVE_INTERVAL_MS:
            return False
        return (self.energy.total_mj() - self._saved_mj >= SAVE_MIN_MJ or self.cycles != self._saved_cycles
                or self.burn_s - self._saved_burn_s >= SAVE_MIN_BURN_S)

    def saved(self, now_ms):
        self._saved_ms = now_ms
        self._saved_mj = self.energy.total_mj()
        self._saved_burn_s = self.burn_s
        self._saved_cycles = self.cycles

    def save(self, now_ms, path=COUNTERS_PATH):
        """Write the counters atomically (a power cut leaves the old file or the
        new one); a flash error (OSError) is the caller's to report."""
        write_atomic(path, json.dumps(self.counters()))
        self.saved(now_ms)


def check_counters(c):
    """The counters dict with every field, or ValueError naming the bad one."""
    if not isinstance(c, dict):
        raise ValueError("counters: expected an object, got %r" % (c,))
    if c and c.get("v") != FORMAT:
        raise ValueError("counters.v: format %r, this firmware reads %d" % (c.get("v"), FORMAT))
    out = {"v": FORMAT}
    for k in FIELDS:
        v = c.get(k, 0)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError("counters.%s: expected a non-negative integer, got %r" % (k, v))
        out[k] = v
    if out["mj"] >= MJ_PER_WH or out["est_mj"] >= MJ_PER_WH:
        raise ValueError("counters: mj must be below %d" % MJ_PER_WH)
    return out


def load(path=COUNTERS_PATH):
    """(counters, problem): the saved counters, or zeros and why they could not be read.
    A missing file is a new board, not a problem; the lamp runs either way."""
    text = read_text(path)
    if text is None:
        return check_counters({}), None
    try:
        return check_counters(json.loads(text)), None
    except ValueError as e:
        return check_counters({}), "%s: %s; counting from zero" % (path, e)
