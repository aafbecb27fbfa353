from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='TriggerSubscription',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('location_id', fields.CharField(db_index=True, max_length=64)),
                ('trigger_id', fields.CharField(unique=True, max_length=128)),
                ('trigger_key', fields.CharField(max_length=64)),
                ('workflow_id', fields.CharField(null=True, max_length=64)),
                ('target_url', fields.TextField(unique=False)),
                ('filters', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'trigger_subscriptions', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A GHL workflow that uses one of our triggers: where to post its events (targetUrl).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TriggerFire',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('subscription', fields.ForeignKeyField('models.TriggerSubscription', source_field='subscription_id', db_constraint=True, to_field='id', related_name='fires', on_delete=OnDelete.CASCADE)),
                ('event_key', fields.CharField(max_length=191)),
                ('fired_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'trigger_fires', 'app': 'models', 'unique_together': (('subscription', 'event_key'),), 'pk_attr': 'id', 'table_description': 'One event sent to one subscription, once: (subscription, event key) is unique.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WorkflowAction',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('location_id', fields.CharField(db_index=True, max_length=64)),
                ('execution_key', fields.CharField(unique=True, max_length=128)),
                ('workflow_id', fields.CharField(null=True, max_length=64)),
                ('ghl_contact_id', fields.CharField(max_length=64)),
                ('message', fields.ForeignKeyField('models.Message', source_field='message_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'workflow_actions', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One call of our "Send WhatsApp message" workflow action, stored before it is answered:'},
            bases=['Model'],
        ),
    ]
