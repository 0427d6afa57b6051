from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_groups")]
    operations: list = []
