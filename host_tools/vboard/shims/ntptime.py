# ESP32 `ntptime` for the vboard: the supervisor's host clock is the NTP
# server; it answers only while the board's network link is up, after the
# rig's ntp_slow delay. As the real module: the server's name is looked up
# first (socket.getaddrinfo, which blocks), then the caller blocks until the
# answer or `timeout` seconds, then OSError(ETIMEDOUT).
import _vbus
import time as _time
import utime

host = "pool.ntp.org"
timeout = 1


def time():
    # seconds since the board's epoch (2000-01-01)
    import socket
    socket.getaddrinfo(host, 123)
    delay, secs = _vbus.call("NTP").split()
    if int(delay) > timeout * 1000:
        utime.sleep_ms(timeout * 1000)
        raise OSError(110)  # ETIMEDOUT
    utime.sleep_ms(int(delay))
    return int(secs)


def settime():
    import machine
    tm = _time.gmtime(time())
    machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0))
