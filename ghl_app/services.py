"""The app's long-lived parts, created and shut down in one place (the web app's lifespan).

Order matters: start the pieces others depend on first, stop them last.
"""

from __future__ import annotations

import logging

from ghl_app.events import InProcessEventBus
from ghl_app.settings import Settings
from ghl_app.supervisor import TaskSupervisor

log = logging.getLogger(__name__)


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bus = InProcessEventBus()
        self.supervisor = TaskSupervisor()

    async def start(self) -> None:
        if self.settings.missing_ghl:
            log.warning(
                "GHL settings missing: %s (installs and message sync stay off until they are set)",
                ", ".join(self.settings.missing_ghl),
            )

    async def stop(self) -> None:
        await self.supervisor.shutdown()

    def session_counts(self) -> dict[str, int]:
        return {}
