"""The bridge and the fixture held to wa-js's own declarations (issue 12, item 2).

The pinned @wppconnect/wa-js package ships `dist/**/*.d.ts`; scripts/test.sh fetches it from the
npm registry (integrity-checked) into .cache/wa-js/ before the tests, so this test reads a local
file. It fails when connectors/wa_bridge.js calls a `WPP.<namespace>.<name>` or listens to an
event the declarations lack, when the fixture offers a function wa-js does not declare, or when
the fixture makes sync what wa-js makes async (returns a Promise), or the reverse. Bumping
DEFAULT_WA_JS_VERSION fetches that version and re-runs it."""

from __future__ import annotations

import re
import tarfile
from functools import cache
from pathlib import Path

from ghl_app.settings import DEFAULT_WA_JS_VERSION

ROOT = Path(__file__).resolve().parents[2]
TARBALL = ROOT / ".cache" / "wa-js" / f"wa-js-{DEFAULT_WA_JS_VERSION}.tgz"
BRIDGE = ROOT / "connectors" / "wa_bridge.js"
FIXTURE = ROOT / "ghl_app" / "demo" / "wa" / "fake-wpp.js"

_FUNCTION = re.compile(
    r"export declare function (\w+)\s*(?:<[^(]*>)?\((.*?)\)\s*:\s*([^;]+);", re.S
)
_CONST = re.compile(r"export declare (?:const|let|class) (\w+)")
_EVENT_KEY = re.compile(r"^\s*'([a-z_]+\.[a-z_.]+)'\??:", re.M)


@cache
def declarations() -> tuple[dict[str, dict[str, str]], set[str]]:
    """({namespace: {name: "async" | "sync" | "value"}}, {event names})."""
    assert TARBALL.exists(), (
        f"{TARBALL.relative_to(ROOT)} is missing: scripts/test.sh fetches it "
        "(.venv/bin/python scripts/fetch-wajs-declarations.py)"
    )
    names: dict[str, dict[str, str]] = {}
    events: set[str] = set()
    with tarfile.open(TARBALL, "r:gz") as archive:
        for member in archive.getmembers():
            parts = member.name.split("/")
            if not member.name.endswith(".d.ts") or len(parts) < 4 or parts[1] != "dist":
                continue
            handle = archive.extractfile(member)
            assert handle is not None
            text = handle.read().decode()
            namespace = names.setdefault(parts[2], {})
            for name, _args, returns in _FUNCTION.findall(text):
                namespace[name] = "async" if returns.strip().startswith("Promise<") else "sync"
            for name in _CONST.findall(text):
                namespace.setdefault(name, "value")
            if parts[-1] == "eventTypes.d.ts":
                events.update(_EVENT_KEY.findall(text))
    return names, events


def _object_body(text: str, start: int) -> str:
    """The text of the `{...}` object literal that opens at or after `start`."""
    opened = text.index("{", start)
    depth = 0
    for index in range(opened, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[opened + 1 : index]
    raise AssertionError("unbalanced object literal")


def _fixture_functions() -> dict[tuple[str, str], str]:
    """(namespace, name) -> "async" | "sync" for the fixture's WPP.<namespace> functions."""
    text = FIXTURE.read_text()
    wpp = _object_body(text, text.index("const WPP = {"))
    found: dict[tuple[str, str], str] = {}
    for namespace in ("conn", "chat", "contact", "util"):
        match = re.search(rf"^    {namespace}: \{{", wpp, re.M)
        assert match, namespace
        body = _object_body(wpp, match.start())
        for line in body.splitlines():
            method = re.match(r"^      (async )?(\w+)\(.*\) \{$", line)
            arrow = re.match(r"^      (\w+): (async )?\(.*\) =>", line)
            if method:
                found[(namespace, method.group(2))] = "async" if method.group(1) else "sync"
            elif arrow:
                found[(namespace, arrow.group(1))] = "async" if arrow.group(2) else "sync"
    return found


def test_every_wpp_function_the_bridge_calls_is_declared() -> None:
    names, _events = declarations()
    called = set(re.findall(r"\bWPP\.(\w+)\.(\w+)", BRIDGE.read_text()))
    assert called, "the bridge calls wa-js"
    missing = sorted(f"WPP.{ns}.{name}" for ns, name in called if name not in names.get(ns, {}))
    assert missing == [], f"wa-js {DEFAULT_WA_JS_VERSION} declares none of {missing}"


def test_every_event_the_bridge_listens_to_is_declared() -> None:
    _names, events = declarations()
    listened = set(re.findall(r"\bon\('([\w.]+)'", BRIDGE.read_text()))
    assert "chat.new_message" in listened and "conn.stream_mode_changed" in events
    assert sorted(listened - events) == []


def test_the_fixture_offers_only_declared_functions_sync_or_async_as_wa_js_does() -> None:
    names, _events = declarations()
    fixture = _fixture_functions()
    assert len(fixture) > 15
    wrong: list[str] = []
    for (namespace, name), kind in sorted(fixture.items()):
        declared = names.get(namespace, {}).get(name)
        if declared is None:
            wrong.append(f"WPP.{namespace}.{name}: not declared by wa-js")
        elif declared != "value" and declared != kind:
            wrong.append(f"WPP.{namespace}.{name}: fixture {kind}, wa-js {declared}")
    assert wrong == []
