"""The architecture's one dependency rule and the manifest as the single source of paths."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from starlette.routing import Route

from ghl_app.manifest import load_manifest
from ghl_app.settings import Settings
from web.app import create_app

ROOT = Path(__file__).resolve().parents[2]


def _imports(folder: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_connectors_import_neither_ghl_app_nor_web() -> None:
    assert not _imports("connectors") & {"ghl_app", "web"}


def test_ghl_app_never_imports_web() -> None:
    assert "web" not in _imports("ghl_app")


def test_manifest_paths_are_served_routes(settings: Settings) -> None:
    manifest = load_manifest()
    paths = {route.path for route in create_app(settings).routes if isinstance(route, Route)}
    assert "/healthz" in paths
    assert manifest.redirect_path == "/oauth/callback"
    assert manifest.webhook_path == "/webhooks/ghl"
    assert manifest.custom_page_path == "/app"
    assert manifest.provider_delivery_path == "/webhooks/ghl/outbound"
    assert {"conversations/message.write", "contacts.write", "oauth.write"} <= set(manifest.scopes)
    # Workflow actions and triggers need workflows.readonly (GHL's marketplace CLI refuses to
    # publish them without it); their paths are served too.
    assert "workflows.readonly" in manifest.scopes
    data = json.loads((ROOT / "manifest.json").read_text())
    workflow_paths = {a["executionPath"] for a in data["workflows"]["actions"]}
    workflow_paths |= {t["subscriptionPath"] for t in data["workflows"]["triggers"]}
    workflow_paths.add(data["workflows"]["actions"][0]["fields"][2]["options"]["path"])
    assert workflow_paths <= paths
    from ghl_app.ghl.workflow_triggers import TRIGGER_KEYS

    assert {t["key"] for t in data["workflows"]["triggers"]} == set(TRIGGER_KEYS)
