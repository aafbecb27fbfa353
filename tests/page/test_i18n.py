"""web/i18n.py and the catalogues: every string the page shows exists in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from web import i18n

WEB = Path(i18n.__file__).resolve().parent


def test_catalogues_have_the_same_keys_and_no_empty_strings() -> None:
    english, portuguese = i18n.catalogue("en"), i18n.catalogue("pt-BR")
    assert set(english) == set(portuguese)
    assert all(value.strip() for value in [*english.values(), *portuguese.values()])


def test_placeholders_match_between_languages() -> None:
    for key, text in i18n.catalogue("en").items():
        other = i18n.catalogue("pt-BR")[key]
        assert set(re.findall(r"{\w+}", text)) == set(re.findall(r"{\w+}", other)), key


def test_every_key_the_page_uses_is_in_the_catalogue() -> None:
    script = "\n".join(path.read_text() for path in (WEB / "static").glob("*.js"))
    template = (WEB / "templates" / "app.html").read_text()
    # Every "namespace.key" string literal in the scripts is a catalogue key.
    used = set(re.findall(r'"([a-z_]+\.[\w.\-]+)"', script))
    used |= set(re.findall(r'data-i18n(?:-placeholder)?="([\w.\-]+)"', template))
    used |= set(re.findall(r"""t\[["']([\w.\-]+)["']\]""", template))
    assert len(used) > 40
    assert used <= set(i18n.catalogue("en")), used - set(i18n.catalogue("en"))
    statuses = ["stopped", "starting", "qr", "connected", "disconnected", "logged_out", "failed"]
    assert {f"status.{status}" for status in statuses} <= set(i18n.catalogue("en"))


@pytest.mark.parametrize(
    ("explicit", "accept", "expected"),
    [
        (None, "pt-BR,pt;q=0.9", "pt-BR"),
        (None, "pt-PT", "pt-BR"),
        (None, "en-GB,en;q=0.8", "en"),
        (None, "fr-FR,pt;q=0.5,en;q=0.3", "pt-BR"),
        (None, "de-DE", "en"),
        (None, "", "en"),
        ("pt_BR", "en", "pt-BR"),
        ("xx", "pt-BR", "pt-BR"),
        (None, "en;q=0.2,pt-BR;q=0.9", "pt-BR"),
    ],
)
def test_choose_locale(explicit: str | None, accept: str, expected: str) -> None:
    assert i18n.choose_locale(explicit, accept) == expected


def test_every_job_kind_the_app_queues_has_a_label_on_the_failed_list(tmp_path: Path) -> None:
    from ghl_app.services import Services
    from support.app_server import test_settings

    kinds = Services(test_settings(str(tmp_path))).jobs.kinds
    assert "ghl_to_wa" in kinds and "wa_to_ghl" in kinds
    script = (WEB / "static" / "failed.js").read_text()
    for kind in kinds:
        assert f'{kind}: "failed.kind.{kind}"' in script, kind
        assert f"failed.kind.{kind}" in i18n.catalogue("pt-BR"), kind
        assert f"failed.kind.{kind}" in i18n.catalogue("en"), kind
