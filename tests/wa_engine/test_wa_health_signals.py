"""WhatsApp's connection from all of wa-js's signals together (connectors/_health.py): pure
state, no browser (the browser tests are in tests/bridge/test_wa_connection_health.py)."""

from __future__ import annotations

from connectors._health import NO_NETWORK, STREAM_DOWN, Health


def _down(health: Health) -> str | None:
    event = health.change("i", connected=True)
    assert event is not None
    return None if event.up else event.reason


def test_down_while_any_signal_says_so_and_up_only_when_none_does() -> None:
    health = Health()
    health.on_mode("CONFLICT")
    assert _down(health) == STREAM_DOWN["CONFLICT"]
    health.on_online(False)
    assert health.change("i", connected=True) is None  # still down for the same reason
    health.on_mode("MAIN")  # the conflict is over, the network is not
    assert _down(health) == NO_NETWORK
    health.on_online(True)
    assert _down(health) is None


def test_nothing_is_reported_before_the_login() -> None:
    health = Health()
    health.on_online(False)
    assert health.change("i", connected=False) is None
    assert _down(health) == NO_NETWORK  # told once the number is connected


def test_a_fresh_main_ends_a_ban_and_an_offline_info() -> None:
    health = Health()
    health.on_backend("account_temporarily_banned")
    health.on_info("OFFLINE")
    assert _down(health) is not None
    health.on_info("CONNECTING")
    assert health.change("i", connected=True) is None
    health.on_mode("MAIN")
    assert _down(health) is None
