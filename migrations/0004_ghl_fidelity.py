from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_integrations')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Message',
            name='ghl_posted_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Company',
            name='future_locations',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Contact',
            name='dnd',
            field=fields.BooleanField(default=False),
        ),
    ]
