from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

# Issue 17: who runs which instance across workers (ghl_app/cluster/leases.py).
class Migration(migrations.Migration):
    dependencies = [('models', '0006_event_kinds')]

    initial = False

    operations = [
        ops.CreateModel(
            name='InstanceLease',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('instance', fields.OneToOneField('models.Instance', source_field='instance_id', db_constraint=True, to_field='id', related_name='lease', on_delete=OnDelete.CASCADE)),
                ('owner', fields.CharField(db_index=True, max_length=128)),
                ('epoch', fields.BigIntField(default=0)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'instance_leases', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Which worker runs an instance, until when. The epoch grows at every change of hands and'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Worker',
            fields=[
                ('node_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=128)),
                ('capacity', fields.IntField()),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('seen_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'cluster_workers', 'app': 'models', 'pk_attr': 'node_id', 'table_description': 'A worker process: how many sessions it may run and when it last said it was alive.'},
            bases=['Model'],
        ),
    ]

