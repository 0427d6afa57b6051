from django.db import migrations, models

# Interest and penalty conventions (issue 18 §4, §5 due-date roll): the first broken period, the due-date roll,
# grace as a waiver, 罚息 and 复利 apart (product settings copied onto loans), and the close's penalty columns.


class Migration(migrations.Migration):
    dependencies = [("loans", "0007_classification")]
    operations = [
        migrations.AddField("product", "first_period", models.CharField(max_length=16, default="resolve")),
        migrations.AddField("product", "due_date_roll", models.CharField(max_length=20, default="none")),
        migrations.AddField("product", "grace_mode", models.CharField(max_length=8, default="free")),
        migrations.AddField("product", "penalty_on_principal", models.BooleanField(default=True)),
        migrations.AddField("product", "compound_on_interest", models.BooleanField(default=True)),
        migrations.AddField("product", "compound_markup_pct",
                            models.PositiveSmallIntegerField(null=True, blank=True)),
        migrations.AddField("loan", "first_period", models.CharField(max_length=16, default="resolve")),
        migrations.AddField("loan", "due_date_roll", models.CharField(max_length=20, default="none")),
        migrations.AddField("loan", "grace_penalty_minor", models.BigIntegerField(default=0)),
        migrations.AddField("loan", "grace_compound_minor", models.BigIntegerField(default=0)),
        migrations.AddField("loan", "compound_minor", models.BigIntegerField(default=0)),
        migrations.AddField("loan", "compound_carry", models.BigIntegerField(default=0)),
        migrations.AddField("loan", "penalty_charged_minor", models.BigIntegerField(default=0)),
    ]
