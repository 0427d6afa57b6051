from django.db import migrations, models


class Migration(migrations.Migration):
    """A customer group's English name (issue 20): English pages show it; blank means the group has only `name`."""

    dependencies = [("customers", "0006_groups_more")]

    operations = [
        migrations.AddField(
            model_name="customergroup",
            name="name_en",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
    ]
