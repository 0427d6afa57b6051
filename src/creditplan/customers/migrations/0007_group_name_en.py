from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("customers", "0006_groups_more")]

    operations: list = []
