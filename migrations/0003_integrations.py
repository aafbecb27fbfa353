from tortoise import migrations
from migrations._state_only import StateOnlyAlterField
from tortoise.migrations import operations as ops
import functools
from ghl_app.models import Origin
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_workflows')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AgencyAlerts',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('company_id', fields.CharField(unique=True, max_length=64)),
                ('url', fields.TextField(unique=False)),
                ('secret_enc', fields.TextField(unique=False)),
                ('grace_seconds', fields.IntField(default=300)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'agency_alerts', 'app': 'models', 'pk_attr': 'id', 'table_description': "An agency's disconnect alerts: where to post them, how they are signed, the grace."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiKey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('location_id', fields.CharField(db_index=True, max_length=64)),
                ('name', fields.CharField(max_length=100)),
                ('key_id', fields.CharField(unique=True, max_length=16)),
                ('secret_hash', fields.CharField(max_length=64)),
                ('created_by', fields.CharField(null=True, max_length=64)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'api_keys', 'app': 'models', 'pk_attr': 'id', 'table_description': "An integrator's key for one location: shown once, stored as a SHA-256 of its secret."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiSendRequest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('location_id', fields.CharField(max_length=64)),
                ('idempotency_key', fields.CharField(max_length=128)),
                ('message', fields.ForeignKeyField('models.Message', source_field='message_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'api_send_requests', 'app': 'models', 'unique_together': (('location_id', 'idempotency_key'),), 'pk_attr': 'id', 'table_description': "An integrator's `Idempotency-Key`: a retried request returns the first one's message."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='EventEndpoint',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('location_id', fields.CharField(db_index=True, max_length=64)),
                ('url', fields.TextField(unique=False)),
                ('secret_enc', fields.TextField(unique=False)),
                ('events', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'event_endpoints', 'app': 'models', 'pk_attr': 'id', 'table_description': "Where a location's integrator receives signed event webhooks."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='EventDelivery',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event_id', fields.CharField(max_length=64)),
                ('event_type', fields.CharField(max_length=64)),
                ('location_id', fields.CharField(null=True, db_index=True, max_length=64)),
                ('endpoint', fields.ForeignKeyField('models.EventEndpoint', source_field='endpoint_id', null=True, db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('company_id', fields.CharField(null=True, max_length=64)),
                ('receiver', fields.CharField(max_length=80)),
                ('body', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('last_status', fields.IntField(null=True)),
                ('last_response', fields.TextField(null=True, unique=False)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'event_deliveries', 'app': 'models', 'unique_together': (('receiver', 'event_id'),), 'pk_attr': 'id', 'table_description': "One signed event for one receiver (an integrator endpoint or an agency's alert URL),"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Incident',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('instance', fields.ForeignKeyField('models.Instance', source_field='instance_id', db_constraint=True, to_field='id', related_name='incidents', on_delete=OnDelete.CASCADE)),
                ('location_id', fields.CharField(db_index=True, max_length=64)),
                ('status', fields.CharField(max_length=16)),
                ('reason', fields.TextField(null=True, unique=False)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('alerted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('recovered_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'incidents', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A number down: opened when it leaves `connected`, closed when it is back. One alert and'},
            bases=['Model'],
        ),
        # Only the enum's values change (a VARCHAR column): no SQLite table rebuild, which
        # would drop messages' unique constraints (see _state_only.py).
        StateOnlyAlterField(
            model_name='Message',
            name='origin',
            field=fields.CharEnumField(description='WHATSAPP: whatsapp\nPHONE: phone\nGHL: ghl\nAPI: api', enum_type=Origin, max_length=8),
        ),
    ]
