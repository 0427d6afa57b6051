from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("origination", "0003_input_sources")]

    operations: list = []
