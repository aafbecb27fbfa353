"""The README's "Growing past one box" must agree with the deploy files it describes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import yaml
from deploy.conftest import memory_mib

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SECTION = README[README.index("## Growing past one box") :].split("\n## ", 1)[0]


def test_sessions_per_box_follow_the_apps_formula(sessions_for: Callable[[int], int]) -> None:
    figures = re.findall(r"(\d+) on (\d+) GiB", SECTION)
    assert len(figures) >= 4
    for sessions, gib in figures:
        assert int(sessions) == sessions_for(int(gib) * 1024), f"{gib} GiB"


def test_it_names_the_files_and_settings_as_they_are() -> None:
    blueprint = yaml.safe_load((ROOT / "render-scale-out.yaml").read_text())
    assert "`render-scale-out.yaml`" in SECTION
    worker = next(s for s in blueprint["services"] if "--role worker" in s.get("dockerCommand", ""))
    cap = next(v["value"] for v in worker["envVars"] if v.get("key") == "MAX_SESSIONS")
    assert f"`{worker['name']}`" in SECTION and f"`MAX_SESSIONS={cap}`" in SECTION
    assert f"{worker['numInstances']} × `{worker['plan']}`" in SECTION
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["worker"]
    limit = memory_mib(compose["deploy"]["resources"]["limits"]["memory"])
    assert f"limited to {limit // 1024} GiB" in SECTION
    assert f"`MAX_SESSIONS={compose['environment']['MAX_SESSIONS']}`" in SECTION
    assert "--scale worker=" in SECTION
    for shared in ("APP_SECRET", "DATABASE_URL", "REDIS_URL", "PROFILE_STORE"):
        assert f"`{shared}`" in SECTION
