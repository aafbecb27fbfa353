"""The demo stands on a production install: the package imports nothing from tests/, and the
fake GHL runs without the dev-only SDK oracle (`gohighlevel-api-client`, module `highlevel`)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports_from_tests() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "ghl_app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            found |= {
                f"{path.relative_to(ROOT)}: {n}"
                for n in names
                if n.split(".")[0] in {"support", "tests", "page", "bridge"}
            }
    return found


def test_the_demo_stands_alone_without_tests_or_the_sdk_oracle(tmp_path: Path) -> None:
    # A merge that brings back a `support.…` import into the moved fakes shows here.
    assert not _imports_from_tests()
    script = """
import sys
sys.modules["highlevel"] = None  # as on a production install: importing it fails
from ghl_app.demo.server import DemoKeys, build_demo_app, demo_settings
from pathlib import Path
keys = DemoKeys.generate()
app = build_demo_app(demo_settings(Path(sys.argv[1]), 8125, keys), keys, announce=False)
fake = app.state.fake_ghl
assert fake.validate_models is False
import asyncio
import httpx
async def call() -> int:
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        answer = await client.get(
            "/conversations/search", params={"locationId": "x"}, headers={"Version": "2021-04-15"}
        )
        return answer.status_code
print("ok", asyncio.run(call()))
"""
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok 401"  # through the guard, no bearer token
