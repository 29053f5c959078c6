"""What the inventory refuses, with a message that says what and where."""


class InventoryError(Exception):
    """A request the inventory cannot honour; nothing was changed."""


class InvalidName(InventoryError, ValueError):
    """An id or name that cannot be used (it would break topics, files or keys)."""


class NotFound(InventoryError, LookupError):
    pass


class Conflict(InventoryError):
    """The request contradicts what is recorded (pole taken, illegal state change...)."""
