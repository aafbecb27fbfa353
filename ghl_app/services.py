"""The app's long-lived parts, created and shut down in one place (the web app's lifespan).

Order matters: start the pieces others depend on first, stop them last.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import timedelta

import httpx

from ghl_app.bridge import Bridge
from ghl_app.bridge.api_sends import ApiSends
from ghl_app.bridge.media.links import MediaLinks
from ghl_app.bridge.pacing import Pacing
from ghl_app.bridge.workflow_sends import WorkflowSends
from ghl_app.bus import make_bus
from ghl_app.cluster.wakeups import JobWakeups
from ghl_app.cluster.web_sessions import WebSessions
from ghl_app.cluster.worker import WorkerNode
from ghl_app.ghl.integration import BUDGET_WAIT_S, GhlIntegration
from ghl_app.ghl.workflow_triggers import WorkflowTriggers
from ghl_app.integrations.alerts import DisconnectAlerts
from ghl_app.integrations.events import EventHub
from ghl_app.integrations.message_events import MessageEvents
from ghl_app.jobs import JobQueue
from ghl_app.metrics import AppMetrics
from ghl_app.sessions import SessionManager
from ghl_app.settings import Settings
from ghl_app.supervisor import TaskSupervisor

log = logging.getLogger(__name__)


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # In process by default; across processes on Redis when REDIS_URL is set (issue 17).
        self.bus = make_bus(settings.redis_url)
        self.supervisor = TaskSupervisor()
        # The durable job queue: parts register their job kinds on it in their constructors.
        self.jobs = JobQueue(
            lease_s=settings.job_lease_seconds,
            concurrency=settings.job_concurrency,
            per_location=settings.job_concurrency_per_location or None,
        )
        # GHL: one connection pool, limiter and token manager for the whole process.
        self.ghl_integration = GhlIntegration(
            settings, budget_wait_s=BUDGET_WAIT_S, timeout=settings.ghl_timeout_seconds
        )
        self.ghl = self.ghl_integration.client
        self.tokens = self.ghl_integration.tokens
        # Issue 17: a web node's sessions run on workers; a worker runs them under leases.
        self.node_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.sessions = (
            WebSessions(settings, self.bus, self.supervisor, self.node_id)
            if settings.role == "web"
            else SessionManager(settings, self.bus, self.supervisor)
        )
        self.worker = (
            WorkerNode(settings, self.sessions, self.bus, self.supervisor, self.node_id)
            if settings.role == "worker"
            else None
        )
        # Inbound files GHL will not take, served by /media/ links until their retention ends.
        self.media_links = MediaLinks(
            settings.media_dir,
            public_url=settings.public_url,
            app_secret=settings.app_secret,
            retention=timedelta(days=settings.media_retention_days),
        )
        self.bridge = Bridge(
            queue=self.jobs,
            client=self.ghl,
            sessions=self.sessions,
            provider_id=settings.ghl_conversation_provider_id,
            routing_tag_prefix=settings.workflow_routing_tag_prefix,
            attachment_hosts=settings.attachment_allowed_hosts,
            media_links=self.media_links,
            pacing=Pacing(
                min_gap_s=settings.send_min_gap_seconds,
                jitter_s=settings.send_jitter_seconds,
                per_minute=settings.sends_per_minute,
            ),
        )
        # GHL workflows: our action sends through the bridge; our triggers hear the bridge
        # (a message in GHL) and the sessions (a number down or back).
        self.workflow_sends = WorkflowSends(
            queue=self.jobs, client=self.ghl, provider_id=settings.ghl_conversation_provider_id
        )
        self.workflow_triggers = WorkflowTriggers(
            queue=self.jobs, client=self.ghl, ghl_api_url=settings.ghl_api_url
        )
        if self.worker is not None:
            self.worker.turns = self.bridge.outbound.turns  # other workers' sends take turns here
        self.bridge.inbound.synced_listeners.append(self.workflow_triggers.on_message_synced)
        self.sessions.add_status_listener(self.workflow_triggers.on_status)
        self.metrics = AppMetrics(self)
        # Integrators and agencies: API sends, signed events (webhooks and a live socket),
        # disconnect alerts.
        self.events_http = httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        self.event_hub = EventHub(
            queue=self.jobs,
            bus=self.bus,
            cipher=self.ghl_integration.cipher,
            http=self.events_http,
            allowed_hosts=settings.webhook_allowed_hosts,
        )
        self.api_sends = ApiSends(queue=self.jobs)
        message_events = MessageEvents(self.event_hub)
        self.bridge.inbound.synced_listeners.append(message_events.on_synced)
        self.bridge.outbound.status_listeners.append(message_events.on_status)
        self.bridge.acks.status_listeners.append(message_events.on_status)
        # Read in GHL -> the WhatsApp chat marked read (issue 16, bridge/read_sync.py).
        self.ghl_integration.webhooks.on_conversation_read = self.bridge.reads.on_ghl_read
        self.alerts = DisconnectAlerts(
            queue=self.jobs, hub=self.event_hub, default_grace_s=settings.alert_grace_seconds
        )
        self.sessions.add_status_listener(self.alerts.on_status)

    async def start(self) -> None:
        # UNINSTALL stops the location's WhatsApp sessions, when a session manager exists.
        stop_location = getattr(getattr(self, "sessions", None), "stop_location", None)
        if stop_location is not None:
            self.ghl_integration.webhooks.on_uninstall = stop_location
        if self.settings.missing_ghl:
            log.warning(
                "GHL settings missing: %s (installs and message sync stay off until they are set)",
                ", ".join(self.settings.missing_ghl),
            )
        await self.bus.start()
        if self.settings.role != "all":
            # Jobs queued here (a web node's webhooks, a worker's own) wake every worker.
            listen = self.settings.role == "worker"
            await JobWakeups(self.bus, self.jobs, self.supervisor, listen=listen).start()
        if isinstance(self.sessions, WebSessions):
            # A web node: HTTP, WebSocket and webhooks. Jobs it enqueues run on the workers.
            await self.sessions.start_rpc()
            log.info("web node %s up", self.node_id)
            return
        self.supervisor.spawn("media-retention", self.media_links.run_retention())
        self.supervisor.spawn("grant-keepalive", self.ghl_integration.tokens.run_keepalive())
        if self.worker is not None:
            await self.worker.start()  # takes over linked instances no live worker holds
        else:
            self.sessions.restore()  # in the background: linked instances come back a few at a time
        await self.jobs.start(self.supervisor)  # after every handler is registered

    async def stop(self) -> None:
        # SIGTERM: stop taking work first, let running jobs finish or release them to the
        # queue (they may still need sessions and GHL), then close the browsers.
        await self.jobs.stop(grace_s=8)
        await self.sessions.shutdown()  # engines closed cleanly, profiles and statuses kept
        if self.worker is not None:
            await self.worker.close()
        await self.supervisor.shutdown()
        await self.bridge.aclose()
        await self.ghl_integration.aclose()  # after the tasks that may still call GHL
        await self.events_http.aclose()
        await self.bus.close()

    def session_counts(self) -> dict[str, int]:
        return self.sessions.session_counts()
