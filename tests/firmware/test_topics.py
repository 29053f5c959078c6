# The MQTT topics of the contract (docs/protocol.md), shared by board, tools and tests.
from lampctl import topics


def test_topics_follow_the_contract():
    assert topics.root("metz", "a1b2") == "pl/metz/a1b2"
    assert topics.command("metz", "a1b2") == "pl/metz/a1b2/cmd/+"
    assert topics.command("metz", "a1b2", "level") == "pl/metz/a1b2/cmd/level"
    assert topics.group_command("metz", "centre", "ping") == "pl/metz/group/centre/cmd/ping"
    assert topics.presence("metz", "rue-a") == "pl/metz/group/rue-a/presence"


def test_command_name_comes_from_device_and_group_topics():
    assert topics.command_name(topics.command("site1", "lamp7", "level").encode()) == "level"
    assert topics.command_name(topics.group_command("site1", "elm-street", "program")) == "program"
    assert topics.command_name("pl/site1/lamp7/state") is None
    assert topics.command_name("pl/site1/lamp7/cmd/") is None
    assert topics.command_name("pl/site1/lamp7/cmd/level/extra") is None
