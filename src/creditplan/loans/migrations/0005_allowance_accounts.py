from django.db import migrations

# The loss allowance (IFRS 9 / CAS 22) the month-end ECL run posts to (risk.services.ecl, docs/ecl.md).
ACCOUNTS = (
    ("1304", "Loan loss allowance (contra-asset)", "贷款损失准备", "asset"),
    ("6703", "Credit impairment – loan loss provision", "信用减值损失-贷款损失准备", "expense"),
)


def add_accounts(apps, schema_editor):
    Account = apps.get_model("loans", "Account")
    for code, name, name_zh, kind in ACCOUNTS:
        Account.objects.update_or_create(code=code, defaults={"name": name, "name_zh": name_zh, "kind": kind})


def remove_accounts(apps, schema_editor):
    apps.get_model("loans", "Account").objects.filter(code__in=[a[0] for a in ACCOUNTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("loans", "0004_interest_rule")]
    operations = [migrations.RunPython(add_accounts, remove_accounts)]
