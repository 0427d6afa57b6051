from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("plans", "0006_targets")]
    operations: list = []
