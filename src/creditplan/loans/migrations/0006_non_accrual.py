from django.db import migrations, models

# Non-accrual (非应计) and the off-balance-sheet memo accounts (表外): interest and penalty of a loan more than
# 90 days past due leave income and are tracked off balance; written-off loans stay in a memo (账销案存).
ACCOUNTS = (
    ("7001", "Off-balance interest receivable (non-accrual)", "表外应收未收利息", "memo"),
    ("7002", "Off-balance interest receivable – contra", "表外应收未收利息对转", "memo"),
    ("7101", "Written-off loans kept on record (principal and interest)", "已核销贷款本息（账销案存）", "memo"),
    ("7102", "Written-off loans kept on record – contra", "已核销贷款本息对转", "memo"),
)


def add_accounts(apps, schema_editor):
    Account = apps.get_model("loans", "Account")
    for code, name, name_zh, kind in ACCOUNTS:
        Account.objects.update_or_create(code=code, defaults={"name": name, "name_zh": name_zh, "kind": kind})


def remove_accounts(apps, schema_editor):
    apps.get_model("loans", "Account").objects.filter(code__in=[a[0] for a in ACCOUNTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("loans", "0005_allowance_accounts")]
    operations = [
        migrations.AddField("product", "non_accrual_dpd", models.PositiveSmallIntegerField(default=90)),
        migrations.AddField("product", "non_accrual_class", models.PositiveSmallIntegerField(default=0)),
        migrations.AddField("loan", "non_accrual", models.BooleanField(default=False)),
        migrations.AddField("loan", "non_accrual_since", models.DateField(null=True, blank=True)),
        migrations.AddField("loan", "written_off_principal_minor", models.BigIntegerField(default=0)),
        migrations.AddField("loan", "memo_interest_minor", models.BigIntegerField(default=0)),
        migrations.AddField("loan", "memo_carry", models.BigIntegerField(default=0)),
        migrations.RunPython(add_accounts, remove_accounts),
    ]
