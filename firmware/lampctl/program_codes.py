# What a checked program document compiles to (lampctl.program_doc reads the
# document, lampctl.program evaluates it): the codes of its steps, its limits
# and its error. Both import this; the reader is loaded only for a document.
from lampctl.tz import DAY

MAX_PROGRAMS = 8
MAX_STEPS = 12        # per program
MAX_CALENDAR = 16     # calendar entries
MAX_TERMS = 4         # operands of min()/max()
MAX_OFFSET = 6 * 3600
MAX_FADE = 7200
MAX_ID = 32
NOON = DAY // 2
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCK = -1            # term code of a clock time; 0..5 are solar.EVENTS
SINGLE, MIN, MAX = 0, 1, 2


class ProgramError(ValueError):
    pass
