from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_groups")]
    operations: list = [
        migrations.AddField(
            model_name="groupchange",
            name="batch",
            field=models.CharField(blank=True, db_index=True, default="", max_length=40),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="groupmember",
            constraint=models.CheckConstraint(
                condition=models.Q(("effective_to__isnull", True))
                | models.Q(("effective_to__gte", models.F("effective_from"))),
                name="group_member_dates",
            ),
        ),
    ]
