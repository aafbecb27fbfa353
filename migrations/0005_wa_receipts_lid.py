from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_ghl_fidelity')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MessageReceipt',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message', fields.ForeignKeyField('models.Message', source_field='message_id', db_constraint=True, to_field='id', related_name='receipts', on_delete=OnDelete.CASCADE)),
                ('location_id', fields.CharField(db_index=True, max_length=64)),
                ('participant', fields.CharField(max_length=128)),
                ('expected', fields.BooleanField(default=False)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('read_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'message_receipts', 'app': 'models', 'unique_together': (('message', 'participant'),), 'pk_attr': 'id', 'table_description': "A group participant's receipt of a message we sent. Expected rows are the members the"},
            bases=['Model'],
        ),
    ]
