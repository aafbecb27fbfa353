"""Session-manager fixtures: settings pointing the default Playwright engines at the fake
WhatsApp Web page, a migrated SQLite file, and a manager that is shut down after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sessions.helpers import ManagerMaker

from ghl_app.bus import InProcessEventBus
from ghl_app.sessions import SessionManager
from ghl_app.settings import Settings
from ghl_app.supervisor import TaskSupervisor
from support.wa_fixture import StaticServer, engine_settings


@pytest.fixture
def settings(data_dir: Path, chromium_path: str, wa_fixture_server: StaticServer) -> Settings:
    return engine_settings(data_dir, chromium_path, wa_fixture_server)


@pytest.fixture
async def make_manager(settings: Settings, db: str) -> AsyncIterator[ManagerMaker]:
    """New managers on the same DATA_DIR (a "process restart" is a second one); all shut down."""
    made: list[tuple[SessionManager, TaskSupervisor]] = []

    def make(custom: Settings | None = None) -> SessionManager:
        supervisor = TaskSupervisor()
        manager = SessionManager(custom or settings, InProcessEventBus(), supervisor)
        made.append((manager, supervisor))
        return manager

    yield make
    for manager, supervisor in made:
        await manager.shutdown()
        await supervisor.shutdown()


@pytest.fixture
async def manager(make_manager: ManagerMaker) -> SessionManager:
    manager: SessionManager = make_manager()
    await manager.restore()  # as at boot: nothing to restore, but the driver is warmed up
    return manager
