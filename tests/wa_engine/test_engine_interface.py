"""The engine interface: ids, events and the layering rule."""

from __future__ import annotations

import ast
import re
from datetime import UTC
from pathlib import Path

import pytest

from connectors import _page_events
from connectors.base import Engine, new_message_id
from connectors.playwright_engine import PlaywrightEngine

CONNECTORS = Path(__file__).resolve().parents[2] / "connectors"


def test_new_message_id_is_whatsapp_shaped_and_unique() -> None:
    ids = {new_message_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"3EB0[0-9A-F]{16}", i) for i in ids)


@pytest.mark.parametrize(
    ("wid", "phone"),
    [("5511999999999@c.us", "+5511999999999"), ("5511999999999:12@c.us", "+5511999999999")],
)
def test_phone_is_e164_digits_of_the_wid_without_device(wid: str, phone: str) -> None:
    assert _page_events.phone_from_wid(wid) == phone
    assert _page_events.wid_without_device(wid) == "5511999999999@c.us"


@pytest.mark.parametrize("wid", ["2769541341223@lid", "120363000000000001@g.us"])
def test_no_phone_is_parsed_from_lids_or_groups(wid: str) -> None:
    with pytest.raises(ValueError):
        _page_events.phone_from_wid(wid)


def test_message_event_converts_page_fields() -> None:
    message = _page_events.message_event(
        "i",
        {
            "id": "ABC",
            "serialized_id": "false_1@c.us_ABC",
            "chat_id": "1@c.us",
            "from_me": False,
            "type": "image",
            "body": None,
            "caption": "",
            "mimetype": "image/jpeg",
            "filename": None,
            "size": 10,
            "t": 1_700_000_000,
            "is_group": False,
            "author": None,
            "notify_name": "Ana",
            "quoted_id": None,
            "sender_phone": "1",
        },
    )
    assert message.timestamp.tzinfo is UTC and message.timestamp.year == 2023
    assert (message.caption, message.size, message.sender_phone) == (None, 10, "+1")


def test_playwright_engine_has_every_engine_member() -> None:
    # mypy checks the signatures (see the end of playwright_engine.py); this checks presence.
    members = {n for n in vars(Engine) if not n.startswith("_")} | set(Engine.__annotations__)
    missing = [n for n in members if n != "instance_id" and not hasattr(PlaywrightEngine, n)]
    assert missing == []


def test_connectors_never_import_ghl_app_or_web() -> None:
    offenders = []
    for path in CONNECTORS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in {"ghl_app", "web"}
            ]
    assert offenders == []
