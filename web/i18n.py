"""The page's message catalogues (web/locales/*.json) and picking a language for a visitor.

Every string a user reads on the page lives in a catalogue; the page gets all of them at once so
the language switch needs no round trip.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
SUPPORTED = ("en", "pt-BR")
DEFAULT = "en"


@cache
def catalogue(locale: str) -> dict[str, str]:
    data = json.loads((LOCALES_DIR / f"{locale}.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{locale}.json is not an object")
    return {str(key): str(value) for key, value in data.items()}


def all_catalogues() -> dict[str, dict[str, str]]:
    return {locale: catalogue(locale) for locale in SUPPORTED}


def match_locale(tag: str) -> str | None:
    """`pt`, `pt-br`, `pt_PT` -> `pt-BR`; `en-GB` -> `en`; anything else -> None."""
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    for locale in SUPPORTED:
        if locale.split("-")[0].lower() == primary:
            return locale
    return None


def choose_locale(explicit: str | None, accept_language: str) -> str:
    """An explicit `?lang=` first, then the browser's Accept-Language order, then English."""
    if explicit and (found := match_locale(explicit)):
        return found
    weighted: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            weighted.append((quality, tag))
    for _quality, tag in sorted(weighted, key=lambda item: -item[0]):
        if found := match_locale(tag):
            return found
    return DEFAULT
