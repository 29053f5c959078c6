# The MQTT topics of the contract (docs/protocol.md), in one place for the
# board, the host tools and the tests. Pure: no hardware.


def root(site, device):
    """pl/{site}/{device}: the board's own topics (status, state, tele, event, ack) hang below it."""
    return "pl/%s/%s" % (site, device)


def command(site, device, name="+"):
    """A command to one board ("+" subscribes to all of them)."""
    return "pl/%s/%s/cmd/%s" % (site, device, name)


def group_command(site, group, name="+"):
    """A command to every board of a group (a street, a district)."""
    return "pl/%s/group/%s/cmd/%s" % (site, group, name)


def presence(site, street):
    """Neighbour presence along one street."""
    return "pl/%s/group/%s/presence" % (site, street)


def command_name(topic):
    """The command name of a `.../cmd/{name}` topic (device or group), else None."""
    if isinstance(topic, (bytes, bytearray)):
        topic = bytes(topic).decode()
    i = topic.rfind("/cmd/")
    if i < 0:
        return None
    name = topic[i + 5:]
    return name if name and "/" not in name else None
