from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("loans", "0006_non_accrual")]
    operations: list = []
