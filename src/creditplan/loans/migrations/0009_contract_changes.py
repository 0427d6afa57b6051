from django.conf import settings
from django.db import migrations, models

# Contract changes (issue 18): calendar repricing, prepayment rules, batch spread amendments.


class Migration(migrations.Migration):
    dependencies = [("loans", "0008_conventions"), migrations.swappable_dependency(settings.AUTH_USER_MODEL)]
    operations = [
        migrations.AddField("product", "reset_basis", models.CharField(max_length=12, default="anniversary")),
        migrations.AddField("product", "reset_month_day", models.CharField(max_length=5, default="01-01")),
        migrations.AddField("product", "prepay_fee_bp", models.PositiveIntegerField(default=0)),
        migrations.AddField("product", "prepay_fee_months", models.PositiveSmallIntegerField(default=0)),
        migrations.AddField("product", "prepay_min_minor", models.BigIntegerField(default=0)),
        migrations.AddField("product", "prepay_max_per_year", models.PositiveSmallIntegerField(default=0)),
        migrations.AddField("product", "prepay_lockin_months", models.PositiveSmallIntegerField(default=0)),
        migrations.CreateModel(
            name="SpreadAmendment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("batch_ref", models.CharField(max_length=64, unique=True)),
                ("effective_date", models.DateField()),
                ("apply_at", models.CharField(max_length=12)),
                ("new_spread_ppm", models.IntegerField()),
                ("selection", models.JSONField(default=dict)),
                ("loans", models.PositiveIntegerField(default=0)),
                ("left_out", models.JSONField(default=dict)),
                ("result", models.JSONField(default=dict)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("applied_by", models.ForeignKey(null=True, on_delete=models.deletion.PROTECT, related_name="+",
                                                 to=settings.AUTH_USER_MODEL)),
            ],
        ),
    ]
