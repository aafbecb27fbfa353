"""The data model. Tortoise models are the repository: no extra layers on top.

Model docstrings become SQL table comments, and Tortoise splits migration SQL on semicolons,
so they hold none.

Every row that belongs to a sub-account carries its GHL location id, and every query made on a
user's behalf filters on it (isolation between sub-accounts is a security property).
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class InstanceStatus(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    QR = "qr"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    LOGGED_OUT = "logged_out"
    FAILED = "failed"


class Direction(StrEnum):
    INBOUND = "inbound"  # WhatsApp contact -> GHL
    OUTBOUND = "outbound"  # GHL user or the phone's owner -> WhatsApp contact


class Origin(StrEnum):
    WHATSAPP = "whatsapp"  # a contact wrote to the number
    PHONE = "phone"  # the number's owner typed it on the phone
    GHL = "ghl"  # a reply typed in GHL Conversations
    API = "api"  # sent by an integrator with an API key (mirrored into GHL after the send)


class MessageStatus(StrEnum):
    RECEIVED = "received"  # stored, not yet in GHL
    SYNCED = "synced"  # posted into GHL
    PENDING = "pending"  # outbound, stored, not yet sent
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    IGNORED = "ignored"  # a WhatsApp system message (group change, call log...): never posted


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # parked after its last attempt; retryable from the page


class Company(Model):
    """An agency (Company-level) install: its token mints location tokens."""

    id = fields.IntField(primary_key=True)
    company_id = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=255, default="")
    access_token_enc = fields.TextField(null=True)
    refresh_token_enc = fields.TextField(null=True)
    expires_at = fields.DatetimeField(null=True)
    scopes = fields.TextField(default="")
    user_id = fields.CharField(max_length=64, null=True)
    # The agency chose "install to future locations" (the token's `installToFutureLocations`):
    # an INSTALL of a new sub-account may then come without a companyId (AppInstall.md).
    future_locations = fields.BooleanField(default=False)
    installed_at = fields.DatetimeField(null=True)
    uninstalled_at = fields.DatetimeField(null=True)
    needs_reinstall = fields.BooleanField(default=False)
    reinstall_reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "companies"


class Location(Model):
    """A GHL sub-account that installed the app, with its (encrypted) OAuth tokens."""

    id = fields.IntField(primary_key=True)
    location_id = fields.CharField(max_length=64, unique=True)
    company_id = fields.CharField(max_length=64, null=True, db_index=True)
    name = fields.CharField(max_length=255, default="")
    access_token_enc = fields.TextField(null=True)
    refresh_token_enc = fields.TextField(null=True)
    expires_at = fields.DatetimeField(null=True)
    scopes = fields.TextField(default="")
    # "Location" when GHL issued the token to the location itself, "Company" when we minted it
    # from the agency token (then it is re-minted, not refreshed, when it cannot be refreshed).
    user_type = fields.CharField(max_length=16, default="Location")
    installed_at = fields.DatetimeField(null=True)
    uninstalled_at = fields.DatetimeField(null=True)
    needs_reinstall = fields.BooleanField(default=False)
    reinstall_reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "locations"

    @property
    def is_installed(self) -> bool:
        return self.installed_at is not None and self.uninstalled_at is None


class Instance(Model):
    """One WhatsApp number of a location: its session state lives here."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    location: fields.ForeignKeyRelation[Location] = fields.ForeignKeyField(
        "models.Location",
        related_name="instances",
        to_field="location_id",
        on_delete=fields.CASCADE,
    )
    location_id: str
    name = fields.CharField(max_length=100)
    status = fields.CharEnumField(InstanceStatus, max_length=16, default=InstanceStatus.STOPPED)
    phone_number = fields.CharField(max_length=32, null=True)
    wa_id = fields.CharField(max_length=128, null=True)
    last_error = fields.TextField(null=True)
    is_default = fields.BooleanField(default=False)
    groups_enabled = fields.BooleanField(default=False)
    # Issue 16's per-number settings (notes language, calls, ignore list): one JSON object,
    # read through ghl_app/bridge/number_settings.py, which gives absent keys their defaults.
    event_settings: dict[str, Any] = fields.JSONField(default=dict)
    connected_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "instances"
        unique_together = (("location", "name"),)


class Contact(Model):
    """A WhatsApp chat of a location mapped to its GHL contact and conversation."""

    id = fields.IntField(primary_key=True)
    location: fields.ForeignKeyRelation[Location] = fields.ForeignKeyField(
        "models.Location", related_name="contacts", to_field="location_id", on_delete=fields.CASCADE
    )
    location_id: str
    chat_id = fields.CharField(max_length=128)
    lid = fields.CharField(max_length=128, null=True, db_index=True)
    phone_e164 = fields.CharField(max_length=32, null=True, db_index=True)
    name = fields.CharField(max_length=255, null=True)
    is_group = fields.BooleanField(default=False)
    ghl_contact_id = fields.CharField(max_length=64, null=True, db_index=True)
    ghl_conversation_id = fields.CharField(max_length=64, null=True)
    # GHL's Do Not Disturb for this channel (ContactDndUpdate): nothing is sent to the chat.
    dnd = fields.BooleanField(default=False)
    last_instance: fields.ForeignKeyNullableRelation[Instance] = fields.ForeignKeyField(
        "models.Instance", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    last_instance_id: uuid.UUID | None
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "contacts"
        unique_together = (("location", "chat_id"),)


class Message(Model):
    """One message either way, mapping WhatsApp ids to GHL ids (no echo, no duplicate)."""

    id = fields.IntField(primary_key=True)
    instance: fields.ForeignKeyNullableRelation[Instance] = fields.ForeignKeyField(
        "models.Instance", related_name="messages", null=True, on_delete=fields.CASCADE
    )
    instance_id: uuid.UUID | None
    location: fields.ForeignKeyRelation[Location] = fields.ForeignKeyField(
        "models.Location", related_name="messages", to_field="location_id", on_delete=fields.CASCADE
    )
    location_id: str
    contact: fields.ForeignKeyNullableRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="messages", null=True, on_delete=fields.SET_NULL
    )
    contact_id: int | None
    direction = fields.CharEnumField(Direction, max_length=8)
    origin = fields.CharEnumField(Origin, max_length=8)
    wa_message_id = fields.CharField(max_length=128, null=True)
    ghl_message_id = fields.CharField(max_length=64, null=True, unique=True)
    body = fields.TextField(null=True)
    media: dict[str, Any] | None = fields.JSONField(null=True)
    status = fields.CharEnumField(MessageStatus, max_length=16)
    error = fields.TextField(null=True)
    sent_at = fields.DatetimeField(null=True)
    # When its post into GHL was first tried. GHL has no lookup by our id (no altId dedupe), so
    # a message with this set and no GHL id is looked for in its conversation before a re-post.
    ghl_posted_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "messages"
        unique_together = (("instance", "wa_message_id"),)


class MessageReceipt(Model):
    """A group participant's receipt of a message we sent. Expected rows are the members the
    page listed at the send, and WhatsApp reports delivered and read per participant."""

    id = fields.IntField(primary_key=True)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name="receipts", on_delete=fields.CASCADE
    )
    message_id: int
    location_id = fields.CharField(max_length=64, db_index=True)
    participant = fields.CharField(max_length=128)
    expected = fields.BooleanField(default=False)  # a member when the message was sent
    delivered_at = fields.DatetimeField(null=True)
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "message_receipts"
        unique_together = (("message", "participant"),)


class Job(Model):
    """The durable outbox: inserted first, processed after, retried, never held only in memory."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=64)
    payload: dict[str, Any] = fields.JSONField()
    # Jobs sharing an ordering key (instance + chat) run strictly one after another.
    ordering_key = fields.CharField(max_length=255, db_index=True)
    location_id = fields.CharField(max_length=64, null=True, db_index=True)
    status = fields.CharEnumField(JobStatus, max_length=16, default=JobStatus.QUEUED, db_index=True)
    attempts = fields.IntField(default=0)
    max_attempts = fields.IntField(default=8)
    run_after = fields.DatetimeField(db_index=True)
    last_error = fields.TextField(null=True)
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_expires_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "jobs"


class WebhookReceipt(Model):
    """Every verified webhook, once: a repeated webhookId is a conflict here, so it is done once."""

    id = fields.IntField(primary_key=True)
    webhook_id = fields.CharField(max_length=128, unique=True)
    kind = fields.CharField(max_length=64)
    location_id = fields.CharField(max_length=64, null=True)
    company_id = fields.CharField(max_length=64, null=True)
    payload: dict[str, Any] = fields.JSONField()
    handled_at = fields.DatetimeField(null=True)
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "webhook_receipts"


class WorkflowAction(Model):
    """One call of our "Send WhatsApp message" workflow action, stored before it is answered:
    a repeated execution key is a conflict here, so GHL calling twice sends once."""

    id = fields.IntField(primary_key=True)
    location_id = fields.CharField(max_length=64, db_index=True)
    execution_key = fields.CharField(max_length=128, unique=True)
    workflow_id = fields.CharField(max_length=64, null=True)
    ghl_contact_id = fields.CharField(max_length=64)
    message: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    message_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "workflow_actions"


class TriggerSubscription(Model):
    """A GHL workflow that uses one of our triggers: where to post its events (targetUrl)."""

    id = fields.IntField(primary_key=True)
    location_id = fields.CharField(max_length=64, db_index=True)
    trigger_id = fields.CharField(max_length=128, unique=True)
    trigger_key = fields.CharField(max_length=64)
    workflow_id = fields.CharField(max_length=64, null=True)
    target_url = fields.TextField()
    filters: list[Any] = fields.JSONField(default=list)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "trigger_subscriptions"


class TriggerFire(Model):
    """One event sent to one subscription, once: (subscription, event key) is unique."""

    id = fields.IntField(primary_key=True)
    subscription: fields.ForeignKeyRelation[TriggerSubscription] = fields.ForeignKeyField(
        "models.TriggerSubscription", related_name="fires", on_delete=fields.CASCADE
    )
    subscription_id: int
    event_key = fields.CharField(max_length=191)
    fired_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "trigger_fires"
        unique_together = (("subscription", "event_key"),)


class ApiKey(Model):
    """An integrator's key for one location: shown once, stored as a SHA-256 of its secret."""

    id = fields.IntField(primary_key=True)
    location_id = fields.CharField(max_length=64, db_index=True)
    name = fields.CharField(max_length=100)
    key_id = fields.CharField(max_length=16, unique=True)
    secret_hash = fields.CharField(max_length=64)
    created_by = fields.CharField(max_length=64, null=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "api_keys"


class EventEndpoint(Model):
    """Where a location's integrator receives signed event webhooks."""

    id = fields.IntField(primary_key=True)
    location_id = fields.CharField(max_length=64, db_index=True)
    url = fields.TextField()
    secret_enc = fields.TextField()
    events: list[str] = fields.JSONField(default=list)  # empty = every event
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "event_endpoints"


class AgencyAlerts(Model):
    """An agency's disconnect alerts: where to post them, how they are signed, the grace."""

    id = fields.IntField(primary_key=True)
    company_id = fields.CharField(max_length=64, unique=True)
    url = fields.TextField()
    secret_enc = fields.TextField()
    grace_seconds = fields.IntField(default=300)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "agency_alerts"


class Incident(Model):
    """A number down: opened when it leaves `connected`, closed when it is back. One alert and
    one recovery notice per incident, however often the status flaps inside it."""

    id = fields.IntField(primary_key=True)
    instance: fields.ForeignKeyRelation[Instance] = fields.ForeignKeyField(
        "models.Instance", related_name="incidents", on_delete=fields.CASCADE
    )
    instance_id: uuid.UUID
    location_id = fields.CharField(max_length=64, db_index=True)
    status = fields.CharField(max_length=16)
    reason = fields.TextField(null=True)
    started_at = fields.DatetimeField()
    alerted_at = fields.DatetimeField(null=True)
    recovered_at = fields.DatetimeField(null=True, db_index=True)

    class Meta:
        table = "incidents"


class EventDelivery(Model):
    """One signed event for one receiver (an integrator endpoint or an agency's alert URL),
    stored before it is sent, retried with backoff, its last answer kept (truncated)."""

    id = fields.IntField(primary_key=True)
    event_id = fields.CharField(max_length=64)
    event_type = fields.CharField(max_length=64)
    location_id = fields.CharField(max_length=64, null=True, db_index=True)
    endpoint: fields.ForeignKeyNullableRelation[EventEndpoint] = fields.ForeignKeyField(
        "models.EventEndpoint", related_name="deliveries", null=True, on_delete=fields.CASCADE
    )
    endpoint_id: int | None
    company_id = fields.CharField(max_length=64, null=True)  # an agency alert
    receiver = fields.CharField(max_length=80)  # "endpoint:<id>" or "agency:<company>"
    body: dict[str, Any] = fields.JSONField()
    status = fields.CharField(max_length=16, default="pending")  # pending, delivered, failed
    attempts = fields.IntField(default=0)
    last_status = fields.IntField(null=True)
    last_response = fields.TextField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "event_deliveries"
        unique_together = (("receiver", "event_id"),)


class ApiSendRequest(Model):
    """An integrator's `Idempotency-Key`: a retried request returns the first one's message."""

    id = fields.IntField(primary_key=True)
    location_id = fields.CharField(max_length=64)
    idempotency_key = fields.CharField(max_length=128)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name=False, on_delete=fields.CASCADE
    )
    message_id: int
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "api_send_requests"
        unique_together = (("location_id", "idempotency_key"),)
