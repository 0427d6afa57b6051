from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("loans", "0007_classification")]
    operations: list = []
