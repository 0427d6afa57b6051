import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Issue 19 §5: the record of each reconciliation of a plan's book with the loans."""

    dependencies = [("plans", "0003_exposure")]
    operations: list = [
        migrations.CreateModel(
            name="BookReconciliation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.DateTimeField(auto_now_add=True)),
                ("cells", models.PositiveIntegerField(default=0)),
                ("quotas", models.PositiveIntegerField(default=0)),
                ("differences", models.JSONField(default=list)),
                ("plan", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                           related_name="reconciliations", to="plans.plan")),
            ],
            options={"ordering": ["-id"]},
        ),
    ]
