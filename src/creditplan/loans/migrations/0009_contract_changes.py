from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("loans", "0008_conventions")]
    operations: list = []
