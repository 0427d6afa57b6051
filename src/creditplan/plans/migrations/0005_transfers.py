from django.db import migrations, models


class Migration(migrations.Migration):
    """Issue 19 §3, quota transfers: why a transfer was refused, as a stable code and the source's available
    amount at the time (the sentence itself stays in Transfer.refusal)."""

    dependencies = [("plans", "0004_book")]
    operations: list = [
        migrations.AddField(model_name="transfer", name="refusal_code",
                            field=models.CharField(blank=True, max_length=40)),
        migrations.AddField(model_name="transfer", name="refusal_available_minor",
                            field=models.BigIntegerField(blank=True, null=True)),
    ]
