# ESP32 `ntptime` for the vboard: the supervisor's host clock is the NTP
# server; it answers only while the board's network link is up.
import _vbus
import time as _time

host = "pool.ntp.org"
timeout = 1


def time():
    # seconds since the board's epoch (2000-01-01); OSError(ETIMEDOUT) offline
    return int(_vbus.call("NTP"))


def settime():
    import machine
    tm = _time.gmtime(time())
    machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0))
