# The board's clock as UTC seconds since 1970, whatever epoch the port keeps
# (the esp32 port counts from 2000-01-01).
import time

import machine

EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0


def utc():
    return time.time() + EPOCH_OFFSET


def set_utc(t):
    tm = time.gmtime(int(t) - EPOCH_OFFSET)
    machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0))
