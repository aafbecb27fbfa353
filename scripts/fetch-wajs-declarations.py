"""Fetch the pinned wa-js package (verified against the npm registry's integrity) into
.cache/wa-js/, for the declarations test (tests/wa_engine/test_wajs_declarations.py).

Run by scripts/test.sh before the tests, like the other things the tests need installed: the
tests themselves only read the cached file (they send nothing off the machine). Bumping
DEFAULT_WA_JS_VERSION fetches the new version and so re-runs the check against it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.wajs import fetch_tarball  # noqa: E402
from ghl_app.settings import DEFAULT_WA_JS_VERSION  # noqa: E402


def main() -> int:
    target = ROOT / ".cache" / "wa-js" / f"wa-js-{DEFAULT_WA_JS_VERSION}.tgz"
    if target.exists():
        return 0
    tarball, _integrity = asyncio.run(
        fetch_tarball(DEFAULT_WA_JS_VERSION, "https://registry.npmjs.org")
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.with_suffix(".tmp").write_bytes(tarball)
    target.with_suffix(".tmp").replace(target)
    print(f"wa-js {DEFAULT_WA_JS_VERSION} declarations cached in {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
