"""The marketplace manifest (manifest.json at the project root) is the one source of our scopes
and public paths: the OAuth URL, the routes and the README all read it, so they cannot drift."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class Manifest:
    name: str
    scopes: tuple[str, ...]
    redirect_path: str
    webhook_path: str
    provider_delivery_path: str
    custom_page_path: str
    provider_type: str
    provider_name: str


def _manifest_text() -> str:
    # Installed package: a copy ships inside ghl_app; a checkout reads the root file.
    root_file = Path(__file__).resolve().parent.parent / "manifest.json"
    if root_file.is_file():
        return root_file.read_text()
    return resources.files("ghl_app").joinpath("manifest.json").read_text()


@cache
def load_manifest() -> Manifest:
    data = json.loads(_manifest_text())
    provider = data["conversationProvider"]
    return Manifest(
        name=data["name"],
        scopes=tuple(data["scopes"]),
        redirect_path=data["oauth"]["redirectPath"],
        webhook_path=data["webhooks"]["path"],
        provider_delivery_path=provider["deliveryPath"],
        custom_page_path=data["customPage"]["path"],
        provider_type=provider["type"],
        provider_name=provider["name"],
    )
