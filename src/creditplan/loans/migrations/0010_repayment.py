import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Repayment (issue 18): the allocation method of a product (by component, or installment by installment: 逐期),
# the close's debit of the borrower's settlement account (mandates, partial debits, retries) and the built-in
# settlement gateway's tables (what core banking would answer: the available balance; debits by reference).


class Migration(migrations.Migration):
    dependencies = [
        ("loans", "0009_contract_changes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    operations = [
        migrations.AddField("product", "allocation", models.CharField(default="component", max_length=12)),
        migrations.AddField("product", "debit_partial", models.BooleanField(default=True)),
        migrations.AddField("product", "debit_retry_days", models.PositiveSmallIntegerField(default=3)),
        migrations.CreateModel(
            name="DebitMandate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("account_no", models.CharField(max_length=34)),
                ("active", models.BooleanField(default=True)),
                ("cycle_date", models.DateField(blank=True, null=True)),
                ("attempt", models.PositiveSmallIntegerField(default=0)),
                ("retries_left", models.PositiveSmallIntegerField(default=0)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("created_by", models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT,
                                                 related_name="+", to=settings.AUTH_USER_MODEL)),
                ("loan", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE,
                                              related_name="debit_mandate", to="loans.loan")),
            ],
        ),
        migrations.CreateModel(
            name="SettlementAccount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("account_no", models.CharField(max_length=34, unique=True)),
                ("currency", models.CharField(default="CNY", max_length=3)),
                ("balance_minor", models.BigIntegerField(default=0)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "constraints": [models.CheckConstraint(condition=models.Q(("balance_minor__gte", 0)),
                                                       name="settlement_balance_not_negative")],
            },
        ),
        migrations.CreateModel(
            name="SettlementDebit",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reference", models.CharField(max_length=64, unique=True)),
                ("account_no", models.CharField(max_length=34)),
                ("asked_minor", models.BigIntegerField()),
                ("debited_minor", models.BigIntegerField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
    ]
