"""The fleet's accounts for RabbitMQ's MQTT plugin, from the inventory: users,
permissions and topic permissions as a definitions file (`rabbitmqctl
import_definitions`: one call for 10,000 accounts, where `add_user` would take an
hour of CLI start-ups).

The rights are acl.py's, in RabbitMQ's terms: MQTT topics become routing keys of
`amq.topic` with `/` turned into `.` (3.10 keeps a `.` inside a level as it is, so
pl/metz/group/centre.rue-a/cmd/level is pl.metz.group.centre.rue-a.cmd.level), and
a subscription's filter is checked as a binding key (`+` is `*`), so the `read`
patterns match filters. The users carry
no usable password: logins are checked by the auth service (rabbit_auth.py)
against the same hashes Mosquitto gets."""
from __future__ import annotations

import json
import re

from ..inventory import boards, groups
from ..inventory.db import Inventory
from .acl import probe_home
from .credentials import Account

VHOST = "/"
EXCHANGE = "amq.topic"
NOTHING = "^$"


def key(topic: str) -> str:
    """An MQTT topic as RabbitMQ's routing key."""
    return topic.replace("/", ".")


def _k(topic: str) -> str:
    return re.escape(key(topic))


def board_topic_rights(site: str, device: str, board_groups: list[str]) -> tuple[str, str]:
    """(write, read) patterns: publish one level under its root but never cmd; read its own and its
    groups' commands; presence on its groups both ways."""
    root = _k(f"pl/{site}/{device}")
    presence = [_k(f"pl/{site}/group/{g}/presence") for g in board_groups]
    write = [rf"^{root}\.(?!cmd$)[^.]+$"] + [f"^{p}$" for p in presence]
    read = [rf"^{root}\.cmd\.(\*|#|[^.]+)$"]
    read += [rf"^{_k(f'pl/{site}/group/{g}')}\.cmd\.(\*|#|[^.]+)$" for g in board_groups]
    read += [f"^{p}$" for p in presence]
    return "|".join(write), "|".join(read)


FLEET_READ = r"^pl\..*|^\$SYS\..*"       # $SYS as on Mosquitto (RabbitMQ publishes none; asking is no error)
FLEET_TOPIC_RIGHTS = {"operator": (r"^pl\..*", FLEET_READ), "monitor": (NOTHING, FLEET_READ)}


def _queue_rights(username: str, kind: str) -> dict:
    """The plugin's own queues, for a board only under its own client id (= its username), and amq.topic.
    Fleet tools may run several clients at once, under any client id."""
    queues = r"^mqtt-subscription-.*$" if kind == "fleet" else rf"^mqtt-subscription-{re.escape(username)}qos[01]$"
    return {"configure": queues, "write": f"{queues}|^amq\\.topic$", "read": f"{queues}|^amq\\.topic$"}


def definitions(inv: Inventory, accounts: list[Account]) -> dict:
    users, permissions, topic_permissions = [], [], []
    home = probe_home(inv)
    for a in accounts:
        if a.kind == "fleet":
            write, read = FLEET_TOPIC_RIGHTS[a.role or "monitor"]
        elif a.kind == "probe":
            write, read = board_topic_rights(home[0], a.username, home[1]) if home else (NOTHING, NOTHING)
        else:
            board = boards.get(inv, a.chip_id)
            write, read = ((NOTHING, NOTHING) if board.site is None else
                           board_topic_rights(board.site, board.device_id, groups.for_board(inv, board.chip_id)))
        # No password here: the auth service checks logins against the accounts' hashes.
        users.append({"name": a.username, "password_hash": "", "tags": [],
                      "hashing_algorithm": "rabbit_password_hashing_sha256"})
        permissions.append({"user": a.username, "vhost": VHOST, **_queue_rights(a.username, a.kind)})
        topic_permissions.append({"user": a.username, "vhost": VHOST, "exchange": EXCHANGE,
                                  "write": write, "read": read})
    return {"users": users, "vhosts": [{"name": VHOST}], "permissions": permissions,
            "topic_permissions": topic_permissions}


def definitions_text(inv: Inventory, accounts: list[Account]) -> str:
    return json.dumps(definitions(inv, accounts), indent=1)
