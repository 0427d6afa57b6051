from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("plans", "0002_second_pass")]
    operations: list = []
