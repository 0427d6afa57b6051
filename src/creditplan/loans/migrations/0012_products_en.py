from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("loans", "0011_segment")]

    operations: list = []
