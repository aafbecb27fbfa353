"""Several `ghl-whatsapp serve` OS processes on one shared environment, for the tests of
issue 17 (roles, leases, failover). Model: support/app_process.py.

    async with app_cluster(shared_env, tmp_path) as cluster:
        web = cluster.add("web-1", role="web")
        worker = cluster.add("worker-1", role="worker", MAX_SESSIONS="10")
        await cluster.start_all()
        worker.kill()          # SIGKILL the Python process (see `Node.kill` for Chromium)

Every node gets its own PORT, DATA_DIR (so its own profiles folder, DATA_DIR/profiles) and log
file (`<root>/<name>.log`, appended to across restarts). `app_cluster` ends every node and every
Chromium they started, even when the test fails.

What happens to a node's Chromium (read in Playwright 1.65.1's driver, lib/coreBundle.js, and
checked on this machine by tests/cluster/test_cluster_harness.py):
- The tree is python (serve) -> node (Playwright's driver, `run-driver`, in python's process
  group) -> chromium (one process: the engines launch it `--single-process`). The driver
  launches the browser with `detached: process.platform !== "win32"` (processLauncher.ts,
  launchProcess), so Chromium leads a session and process group of its own: a signal to the
  node's process group does NOT reach Chromium.
- SIGKILL of the Python process closes the driver's stdin pipe; `runDriver`'s
  `transport.onclose` calls `gracefullyProcessExitDoNotHang(0)`: every browser is closed
  gracefully (`gracefullyCloseAll`, capped at 30 s), then the driver exits, and its exit
  handler kills what is left. Measured here: Chromium gone 0.12 s after the SIGKILL. So a
  killed worker does not leave its sessions running, and its browser closed *cleanly*: the
  profile was flushed to disk as on a clean stop. A machine dying gives no such flush:
  `kill(tree=True)` SIGKILLs python, driver and Chromium at once for that. Measured here
  (role all on SQLite, kill 1 s after the link): after `kill()` the profile's Local Storage
  leveldb held the fixture's login key (`fake-wa:linked`); after `kill(tree=True)` no file
  of the profile held it (Chromium writes Local Storage lazily, issue 17).
  `Node.kill` waits for Chromium to go and notes in the node's log if it did not; the
  cluster's clean-up kills any straggler either way.
- SIGSTOP of the Python process alone would leave the driver and Chromium running: the fixture
  page keeps reporting to the phone hub as if alive. A frozen machine or a partition stops the
  whole tree, so `Node.stop` stops every process of the node (python, driver, Chromium) and
  `Node.cont` resumes them all (`stop(tree=False)` stops the Python process only).
- On SIGCONT the page's overdue timers fire at once: a resumed page reports to the hub within
  milliseconds, before the resumed Python side can run a line (let alone see that it lost its
  lease and close the browser). Whatever keeps a stale page from counting as a second live page
  must happen in the page or before the freeze, not in Python after it; the phone hub's
  `overlaps(device)` says by how long two pages overlapped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from connectors._processes import cmdline, descendants, is_alive
from support.app_server import free_port

SERVE = [sys.executable, "-c", "from ghl_app.cli import main; main()", "serve"]


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot): with the pid, it names one process
    even after the pid is reused."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()[19]


class Node:
    """One `ghl-whatsapp serve` process (and its Chromium)."""

    def __init__(self, name: str, role: str | None, env: dict[str, str], root: Path) -> None:
        self.name = name
        self.role = role
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = root / name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = root / f"{name}.log"
        self.env = {
            **os.environ,
            **env,
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "DATA_DIR": str(self.data_dir),
        }
        if role is not None:
            self.env["ROLE"] = role
        self.proc: subprocess.Popen[bytes] | None = None
        # Seconds from the last `kill` until no Chromium of this node was left.
        self.chromium_gone_after: float | None = None
        # Every process ever seen under this node, (pid, start time): what to end at clean-up,
        # since a killed node's children are re-parented and no longer found under it.
        self._seen: set[tuple[int, str]] = set()

    @property
    def profiles_dir(self) -> Path:
        return self.data_dir / "profiles"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self) -> list[str]:
        return [*SERVE, "--role", self.role] if self.role is not None else list(SERVE)

    async def start(self, timeout: float = 60.0) -> None:
        """Start the process and wait until /healthz answers 200."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                self.command(),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: a signal meant for pytest does not reach it, and the
                # clean-up can signal the node's group as a whole.
                start_new_session=True,
            )
        proc = self.proc
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited ({proc.returncode}): {self.log_tail()}")
                try:
                    if (await client.get(f"{self.url}/healthz", timeout=2)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer /healthz: {self.log_tail()}")

    def processes(self) -> set[int]:
        """The node's live processes now: python, the Playwright driver, Chromium; plus any
        Chromium on its profiles that outlived its parent."""
        found = descendants([self.proc.pid]) if self.running and self.proc else set()
        found |= self.chromium_pids()
        for pid in found:
            started = _start_time(pid)
            if started is not None:
                self._seen.add((pid, started))
        return found

    def chromium_pids(self) -> set[int]:
        """Live processes whose command line names a profile under this node's profiles dir."""
        needle = f"--user-data-dir={self.profiles_dir}/"
        pids: set[int] = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and any(needle in arg for arg in cmdline(int(entry.name))):
                pid = int(entry.name)
                if is_alive(pid):
                    pids.add(pid)
        return pids

    def kill(self, *, tree: bool = False, chromium_timeout: float = 15.0) -> None:
        """SIGKILL the Python process (an OOM kill, a crash), then wait until its Chromium has
        gone down too (Playwright's driver takes it down: see the module's doc). `tree=True`
        kills every process of the node at once instead (a container or a machine dying)."""
        if not self.running or self.proc is None:
            return
        tree_pids = self.processes()
        if tree:
            self._signal_all(tree_pids, signal.SIGKILL)
        else:
            self.proc.kill()
        self.proc.wait(10)
        killed = time.monotonic()
        deadline = killed + chromium_timeout
        while self.chromium_pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.chromium_gone_after = time.monotonic() - killed
        left = self.chromium_pids()
        if left:
            self._note(f"Chromium outlived the SIGKILL of its node: {sorted(left)}")

    def stop(self, *, tree: bool = True) -> None:
        """SIGSTOP the whole node (python, driver, Chromium): a frozen machine or a partition.
        `tree=False` stops the Python process only: its driver and Chromium run on, so its
        fixture pages keep reporting to the phone hub (see the module's doc)."""
        if tree:
            self._signal_all(self.processes(), signal.SIGSTOP)
        elif self.proc is not None and self.running:
            self.processes()  # remembered for `cont` and the clean-up
            self.proc.send_signal(signal.SIGSTOP)

    def cont(self) -> None:
        """SIGCONT everything `stop` froze (and anything started since)."""
        self._signal_all(self.processes(), signal.SIGCONT)

    async def terminate(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (a clean stop: the app stops its engines), then SIGKILL after `timeout`.
        Returns the exit code."""
        if self.proc is None:
            return None
        if self.running:
            self.processes()
            self.cont()  # a stopped process would not handle SIGTERM
            self.proc.terminate()
            try:
                await asyncio.to_thread(self.proc.wait, timeout)
            except subprocess.TimeoutExpired:
                self._note(f"no exit {timeout:.0f} s after SIGTERM: killed")
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait, 10)
        return self.proc.returncode

    async def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return await asyncio.to_thread(self.proc.wait, timeout)

    def reap(self) -> set[int]:
        """Kill whatever of this node is still alive (pids seen under it, its Chromium);
        returns what had to be killed."""
        left = self.processes() | {
            pid for pid, started in self._seen if _start_time(pid) == started and is_alive(pid)
        }
        if self.proc is not None and self.proc.poll() is None:
            left.add(self.proc.pid)
        self._signal_all(left, signal.SIGCONT)
        self._signal_all(left, signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        return left

    async def metrics(self) -> dict[str, float]:
        """The node's /metrics (needs METRICS_TOKEN in its env; cluster_env sets one) as
        `{"name{label=value,...}": value}`, e.g. `ghl_whatsapp_engines_running`."""
        token = self.env.get("METRICS_TOKEN", "")
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.get(
                f"{self.url}/metrics", headers={"Authorization": f"Bearer {token}"}
            )
        answer.raise_for_status()
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(answer.text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        return samples

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]

    def _signal_all(self, pids: set[int], sig: signal.Signals) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def _note(self, line: str) -> None:
        with self.log_path.open("a") as log:
            log.write(f"[cluster harness] {self.name}: {line}\n")


class Cluster:
    """The nodes of one test, sharing `env` (DATABASE_URL, REDIS_URL, APP_SECRET, GHL_*...)."""

    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.env = dict(env)
        self.root = root
        self.nodes: list[Node] = []

    def add(self, name: str | None = None, role: str | None = None, **env: str) -> Node:
        """A node (not started): `role` adds `--role ROLE` (and ROLE=) when not None; `env`
        adds or overrides settings for this node only."""
        name = name or f"{role or 'all'}-{len(self.nodes) + 1}"
        if any(node.name == name for node in self.nodes):
            raise ValueError(f"a node named {name} exists")
        node = Node(name, role, {**self.env, **env}, self.root)
        self.nodes.append(node)
        return node

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    async def start_all(self, timeout: float = 90.0) -> None:
        """Start every node not running, all at once (as a deploy does), and wait for each."""
        await asyncio.gather(*(n.start(timeout) for n in self.nodes if not n.running))

    def leaked(self) -> set[int]:
        """Processes of stopped or killed nodes still alive (should be none)."""
        found: set[int] = set()
        for node in self.nodes:
            if not node.running:
                found |= node.chromium_pids()
        return found

    async def close(self) -> dict[str, set[int]]:
        """End every node (SIGTERM, then SIGKILL) and kill any process left behind. Returns,
        per node, the processes that had to be killed after its Python process had exited."""
        await asyncio.gather(*(node.terminate(timeout=15) for node in self.nodes))
        return {node.name: left for node in self.nodes if (left := node.reap())}

    def logs(self, chars: int = 2000) -> str:
        return "\n".join(f"--- {n.name} ---\n{n.log_tail(chars)}" for n in self.nodes)


@asynccontextmanager
async def app_cluster(env: dict[str, str], root: Path) -> AsyncIterator[Cluster]:
    """A Cluster whose nodes and their Chromium are all gone when the block ends, whatever
    happened inside it."""
    cluster = Cluster(env, root)
    try:
        yield cluster
    finally:
        await cluster.close()
