"""The tables of a scaled-out deployment (issue 17); unused by a single process on SQLite."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from ghl_app.models import Instance


class Worker(Model):
    """A worker process: how many sessions it may run and when it last said it was alive."""

    node_id = fields.CharField(max_length=128, primary_key=True)
    capacity = fields.IntField()
    started_at = fields.DatetimeField()
    seen_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "cluster_workers"


class InstanceLease(Model):
    """Which worker runs an instance, until when. The epoch grows at every change of hands and
    fences a stale owner: writes carry it, and a lost epoch never matches again."""

    id = fields.IntField(primary_key=True)
    instance: fields.OneToOneRelation[Instance] = fields.OneToOneField(
        "models.Instance", related_name="lease", on_delete=fields.CASCADE
    )
    instance_id: object
    owner = fields.CharField(max_length=128, db_index=True)
    epoch = fields.BigIntField(default=0)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "instance_leases"
