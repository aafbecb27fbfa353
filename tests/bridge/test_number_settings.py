"""A number's issue-16 settings (bridge/number_settings.py): defaults for what is absent, the
creator's language for a new number, validation of a change, the ignore list's matching."""

from __future__ import annotations

import pytest

from ghl_app.bridge.number_settings import NumberSettings, from_stored, initial, merged
from ghl_app.bridge.pacing import Pacing
from ghl_app.errors import AppError


def test_a_new_number_takes_its_creators_language_else_english() -> None:
    assert initial("pt-BR") == {"notes_language": "pt-BR"}
    assert initial("pt_PT") == {"notes_language": "pt-BR"}
    assert initial("en-GB") == {"notes_language": "en"}
    assert initial("") == {"notes_language": "en"}
    assert initial("fr") == {"notes_language": "en"}


def test_absent_or_malformed_stored_values_take_the_defaults() -> None:
    assert from_stored(None) == NumberSettings()
    odd = from_stored({"notes_language": "xx", "read_sync": "no", "typing_max_s": -1})
    assert odd.notes_language == "en" and odd.read_sync and odd.typing_max_s == 3.0
    assert from_stored({"typing_max_s": 0}).typing_max_s == 0.0


def test_pacing_falls_back_to_the_apps_defaults_per_value() -> None:
    defaults = Pacing(min_gap_s=2.0, jitter_s=1.5, per_minute=20)
    own = from_stored({"pacing_per_minute": 5, "typing": True})
    assert own.pacing(defaults) == Pacing(2.0, 1.5, 5, typing=True, typing_max_s=3.0)


def test_a_change_is_validated_and_merged() -> None:
    current = NumberSettings()
    changed = merged(current, {"ignored_chats": ["+55 (11) 95555-4444", "1203@g.us"]})
    assert changed.ignored_chats == ("+5511955554444", "1203@g.us")
    assert changed.ignores("5511955554444@c.us") and changed.ignores("1203@g.us")
    assert not changed.ignores("5511900000000@c.us")
    assert merged(changed, {"pacing_min_gap_s": None}).pacing_min_gap_s is None
    for bad in (
        {},
        {"unknown": 1},
        {"notes_language": "es"},
        {"pacing_per_minute": 1.5},
        {"pacing_min_gap_s": -1},
        {"typing": "yes"},
        {"ignored_chats": "x"},
        {"ignored_chats": ["1@example.com"]},
        {"call_reply": 5},
    ):
        with pytest.raises(AppError) as raised:
            merged(current, bad)
        assert raised.value.code == "bad_setting" and raised.value.status == 400
