from django.db import migrations, models


class Migration(migrations.Migration):
    """A product or segment code's English name (issue 20): English pages show it; blank means only `name`."""

    dependencies = [("plans", "0007_periods")]

    operations = [
        migrations.AddField(model_name="dimensioncode", name="name_en",
                            field=models.CharField(blank=True, default="", max_length=100)),
    ]
