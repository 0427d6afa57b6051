from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("plans", "0006_targets")]
    operations: list = [
        # a month's use of a quota (plan periods under "lapse"): the reservation sums the quota's movements of the
        # month inside its one statement (plans.sql.period_select), through this index
        migrations.AddIndex(model_name="movement",
                            index=models.Index(fields=["quota", "on_date"], name="plans_movement_quota_day")),
    ]
