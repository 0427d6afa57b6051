from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("plans", "0003_exposure")]
    operations: list = []
