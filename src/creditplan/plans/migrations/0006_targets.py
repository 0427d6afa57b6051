from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("plans", "0005_transfers")]
    operations: list = [
        # bumped whenever a plan's targets change: the reservation's per-process cache of ratio caps is keyed by it
        migrations.AddField(model_name="plan", name="targets_version",
                            field=models.PositiveIntegerField(default=0)),
        # a ratio cap sums the plan's approvals not yet paid out (plans.sql.ratio_cap_sums): a few among many
        migrations.AddIndex(model_name="reservation", index=models.Index(
            fields=["plan"], condition=models.Q(status__in=["reserved", "escalated"]),
            name="reservation_open_by_plan")),
    ]
