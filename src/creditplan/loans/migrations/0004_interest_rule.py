"""Products and loans name how their schedules round interest (schedule.InterestRule).

Rows that exist already were built with each line's interest rounded on the balance outstanding, so they get
"per-line" and keep rebuilding their schedules (rate resets, prepayments, restructurings) the way they were
made; new products and loans default to "running-total"."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("loans", "0003_term_sheets")]

    operations = [
        migrations.AddField(model_name="product", name="interest_rule",
                            field=models.CharField(default="per-line", max_length=16)),
        migrations.AlterField(model_name="product", name="interest_rule",
                              field=models.CharField(default="running-total", max_length=16)),
        migrations.AddField(model_name="loan", name="interest_rule",
                            field=models.CharField(default="per-line", max_length=16)),
        migrations.AlterField(model_name="loan", name="interest_rule",
                              field=models.CharField(default="running-total", max_length=16)),
    ]
