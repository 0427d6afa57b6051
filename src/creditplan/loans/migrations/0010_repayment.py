from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("loans", "0009_contract_changes")]
    operations: list = []
