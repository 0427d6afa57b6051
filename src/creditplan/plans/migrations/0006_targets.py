from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("plans", "0005_transfers")]
    operations: list = []
