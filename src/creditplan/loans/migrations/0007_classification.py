import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Classification by the 2023 rules (商业银行金融资产风险分类办法): the cure before an upgrade, the manual class
# floor with its reason, and the four-eyes queue of loan changes (loans/approvals.py).


class Migration(migrations.Migration):
    dependencies = [
        ("loans", "0006_non_accrual"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    operations = [
        migrations.AddField("loan", "cure_until", models.DateField(null=True, blank=True)),
        migrations.AddField("loan", "manual_class", models.PositiveSmallIntegerField(default=0)),
        migrations.AddField("loan", "manual_class_until", models.DateField(null=True, blank=True)),
        migrations.AddField("loan", "manual_class_reason", models.CharField(max_length=300, blank=True)),
        migrations.AlterField("restructuring", "observation_until", models.DateField(null=True, blank=True)),
        migrations.CreateModel(
            name="LoanChangeRequest",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(max_length=30)),
                ("params", models.JSONField(default=dict)),
                ("reason", models.CharField(max_length=300)),
                ("status", models.CharField(default="pending", max_length=10)),
                ("proposed_at", models.DateTimeField(auto_now_add=True)),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("note", models.CharField(blank=True, max_length=300)),
                ("result", models.JSONField(default=dict)),
                ("decided_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT,
                                                 related_name="+", to=settings.AUTH_USER_MODEL)),
                ("loan", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="change_requests",
                                           to="loans.loan")),
                ("proposed_by", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                                  to=settings.AUTH_USER_MODEL)),
            ],
            options={"ordering": ["proposed_at", "id"]},
        ),
        migrations.AddConstraint(
            model_name="loanchangerequest",
            constraint=models.UniqueConstraint(condition=models.Q(("status", "pending")), fields=("loan", "kind"),
                                               name="loan_change_one_pending"),
        ),
    ]
