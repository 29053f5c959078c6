# ESP32 `machine` for the vboard: the API of the esp32 port, backed by the
# supervisor's simulated hardware. Only what a real ESP32 has.
import uos
import ubinascii
import utime
import _vbus
from time import _board_ns, _set_board_ns, gmtime, mktime

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
WLAN_WAKE = 3
PIN_WAKE = 2
RTC_WAKE = 4

_irq_pins = {}
# GPIOs an ESP32 (WROOM/WROVER) exposes; 34-39 are input only.
_GPIOS = tuple(range(0, 20)) + (21, 22, 23, 25, 26, 27) + tuple(range(32, 40))


def _edge(args):
    pin = _irq_pins.get(int(args[0]))
    if pin is not None:
        pin._level = int(args[1])
        _vbus.schedule(pin._handler, pin)


_vbus.on("EDGE", _edge)


def _pin_id(pin):
    return pin._id if isinstance(pin, Pin) else int(pin)


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    PULL_HOLD = 4
    IRQ_RISING = 1
    IRQ_FALLING = 2
    WAKE_LOW = 4
    WAKE_HIGH = 5
    DRIVE_0 = 0
    DRIVE_1 = 1
    DRIVE_2 = 2
    DRIVE_3 = 3

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        if id not in _GPIOS:
            raise ValueError("invalid pin")
        self._id = id
        self._mode = self.IN
        self._handler = None
        self._level = 0
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        if mode != -1:
            if mode in (self.OUT, self.OPEN_DRAIN) and self._id >= 34:
                raise ValueError("pin can only be input")
            self._mode = mode
        if pull != -1 and pull is not None and self._id < 34:
            # GPIO 34-39 have no pull resistors: the esp32 port accepts the
            # argument and the pin floats, as here
            _vbus.call("PULL %d %d" % (self._id, pull))
        if value is not None:
            self.value(value)

    def value(self, x=None):
        if x is None:
            return int(_vbus.call("GET %d" % self._id))
        _vbus.call("SET %d %d" % (self._id, 1 if x else 0))

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3, *, wake=None, hard=False):
        self._handler = handler
        if handler is None:
            _irq_pins.pop(self._id, None)
            _vbus.call("IRQ %d 0" % self._id)
        else:
            _irq_pins[self._id] = self
            _vbus.call("IRQ %d %d" % (self._id, trigger))
        return self

    def __repr__(self):
        return "Pin(%d)" % self._id


class Signal:
    def __init__(self, pin, *, invert=False):
        self._pin = pin
        self._invert = invert

    def value(self, x=None):
        if x is None:
            return self._pin.value() ^ self._invert
        self._pin.value(bool(x) ^ self._invert)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class PWM:
    def __init__(self, dest, *, freq=5000, duty=None, duty_u16=None, duty_ns=None, invert=False):
        self._pin = _pin_id(dest)
        self._freq = freq
        self._duty = 0
        self._invert = invert
        self._active = True
        self._sent_duty = self._sent_freq = -1
        self.init(freq=freq, duty=duty, duty_u16=duty_u16, duty_ns=duty_ns)

    def init(self, *, freq=None, duty=None, duty_u16=None, duty_ns=None, invert=None):
        if freq is not None:
            if not 1 <= freq <= 40000000:
                raise ValueError("frequency must be from 1Hz to 40MHz")
            self._freq = freq
        if invert is not None:
            self._invert = invert
        if duty is not None:
            duty_u16 = min(max(duty, 0), 1023) * 65535 // 1023
        if duty_ns is not None:
            duty_u16 = min(duty_ns * self._freq * 65535 // 1000000000, 65535)
        if duty_u16 is not None:
            if not 0 <= duty_u16 <= 65535:
                raise ValueError("duty_u16 must be from 0 to 65535")
            self._duty = duty_u16
        self._active = True
        self._send()

    def _send(self):
        duty = 65535 - self._duty if self._invert else self._duty
        if not self._active:
            duty = 0
        if duty != self._sent_duty or self._freq != self._sent_freq:
            # (the same duty again changes nothing on the pin, nor allocates, as in C)
            _vbus.call("PWM %d %d %d" % (self._pin, self._freq, duty))
            self._sent_duty, self._sent_freq = duty, self._freq

    def freq(self, value=None):
        if value is None:
            return self._freq
        self.init(freq=value)

    def duty(self, value=None):
        if value is None:
            return self._duty * 1023 // 65535
        self.init(duty=value)

    def duty_u16(self, value=None):
        if value is None:
            return self._duty
        self.init(duty_u16=value)

    def duty_ns(self, value=None):
        if value is None:
            return self._duty * 1000000000 // (self._freq * 65535)
        self.init(duty_ns=value)

    def deinit(self):
        self._active = False
        self._send()


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_9BIT = 9
    WIDTH_10BIT = 10
    WIDTH_11BIT = 11
    WIDTH_12BIT = 12

    def __init__(self, pin, *, atten=None):
        self._pin = _pin_id(pin)
        if not (32 <= self._pin <= 39 or self._pin in (0, 2, 4, 12, 13, 14, 15, 25, 26, 27)):
            raise ValueError("invalid pin")

    def atten(self, value):
        pass

    def width(self, value):
        pass

    def read_u16(self):
        return int(_vbus.call("ADC %d" % self._pin))

    def read(self):
        return self.read_u16() >> 4

    def read_uv(self):
        return self.read_u16() * 3300000 // 65535


class ADCBlock:
    def __init__(self, id, *, bits=12):
        pass


class I2C:
    def __init__(self, id=0, *, scl=None, sda=None, freq=400000, timeout=50000):
        self._scl = _pin_id(scl) if scl is not None else (22 if id == 0 else 18)
        self._sda = _pin_id(sda) if sda is not None else (21 if id == 0 else 19)
        self._bus = "%d:%d" % (self._sda, self._scl)

    def init(self, *, scl=None, sda=None, freq=400000, timeout=50000):
        self.__init__(0, scl=scl, sda=sda, freq=freq)

    def scan(self):
        found = _vbus.call("I2CSCAN %s" % self._bus)
        return [int(a) for a in found.split(",")] if found else []

    def _xfer(self, addr, wbuf, nread):
        out = _vbus.call("I2C %s %d %s %d" % (
            self._bus, addr, ubinascii.hexlify(wbuf).decode() if wbuf else "-", nread))
        return ubinascii.unhexlify(out) if nread else b""

    def writeto(self, addr, buf, stop=True):
        self._xfer(addr, bytes(buf), 0)
        return len(buf)

    def readfrom(self, addr, nbytes, stop=True):
        return self._xfer(addr, b"", nbytes)

    def readfrom_into(self, addr, buf, stop=True):
        buf[:] = self._xfer(addr, b"", len(buf))

    def writevto(self, addr, vector, stop=True):
        self._xfer(addr, b"".join(bytes(b) for b in vector), 0)

    def _reg(self, memaddr, addrsize):
        return memaddr.to_bytes(addrsize // 8, "big")

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        return self._xfer(addr, self._reg(memaddr, addrsize), nbytes)

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        buf[:] = self._xfer(addr, self._reg(memaddr, addrsize), len(buf))

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self._xfer(addr, self._reg(memaddr, addrsize) + bytes(buf), 0)


SoftI2C = I2C


class WDT:
    # Once started it cannot be stopped, as on the ESP32: the supervisor kills
    # and restarts the board when feeds stop for longer than the timeout.
    def __init__(self, id=0, timeout=5000):
        if timeout < 1:
            raise ValueError("WDT timeout too short")
        _vbus.call("WDT %d" % timeout)

    def feed(self):
        _vbus.tell(b"!FEED\n")


class RTC:
    def __init__(self, id=0):
        pass

    def datetime(self, datetimetuple=None):
        if datetimetuple is None:
            ns = _board_ns()
            t = gmtime(ns // 1000000000)
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], ns // 1000 % 1000000)
        y, mo, d, _wd, h, mi, s = datetimetuple[:7]
        us = datetimetuple[7] if len(datetimetuple) > 7 else 0
        _set_board_ns(mktime((y, mo, d, h, mi, s, 0, 0)) * 1000000000 + us * 1000)

    def init(self, datetimetuple):
        self.datetime(datetimetuple)

    def memory(self, data=None):
        if data is None:
            return ubinascii.unhexlify(_vbus.call("RTCMEM"))
        if len(data) > 2048:
            raise ValueError("buffer too long")
        _vbus.call("RTCMEM %s" % (ubinascii.hexlify(data).decode() or "-"))


_timers = {}


def _timer_fired(args):
    t = _timers.get(int(args[0]))
    if t is not None and t._cb is not None:
        if t._mode == Timer.ONE_SHOT:
            _timers.pop(t._id, None)
        _vbus.schedule(t._cb, t)


_vbus.on("TIMER", _timer_fired)


class Timer:
    # The supervisor keeps the time; the callback runs scheduled, as the
    # esp32 port's timer callbacks do.
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id, *, mode=PERIODIC, freq=-1, period=-1, callback=None):
        if id not in (0, 1, 2, 3):
            raise ValueError("invalid Timer number")
        self._id = id
        self._cb = None
        self._mode = mode
        if callback is not None:
            self.init(mode=mode, freq=freq, period=period, callback=callback)

    def init(self, *, mode=PERIODIC, freq=-1, period=-1, callback=None):
        if freq > 0:
            period = max(1, 1000 // freq)
        self._mode, self._cb = mode, callback
        _timers[self._id] = self
        _vbus.call("TIMER %d %d %d" % (self._id, max(period, 1), mode))

    def deinit(self):
        self._cb = None
        _timers.pop(self._id, None)
        _vbus.call("TIMER %d 0 0" % self._id)

    def value(self):
        return 0


def reset():
    _vbus.call("RESET")
    while True:
        utime.sleep(1)


def soft_reset():
    _vbus.call("SOFTRESET")
    while True:
        utime.sleep(1)


def deepsleep(time_ms=0):
    _vbus.call("DEEPSLEEP %d" % time_ms)
    while True:
        utime.sleep(1)


def lightsleep(time_ms=0):
    utime.sleep_ms(time_ms)


def idle():
    utime.sleep_ms(1)


def reset_cause():
    return int(uos.getenv("VBOARD_RESET_CAUSE") or PWRON_RESET)


def wake_reason():
    return 0


def unique_id():
    return ubinascii.unhexlify(uos.getenv("VBOARD_UID"))


_freq = 160000000


def freq(hz=None):
    global _freq
    if hz is None:
        return _freq
    if hz not in (20000000, 40000000, 80000000, 160000000, 240000000):
        raise ValueError("frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz")
    _freq = hz


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


def bootloader():
    reset()
