from django.db import migrations


def load_chart(apps, schema_editor):
    from creditplan.loans.domain.accounts import CHART

    Account = apps.get_model("loans", "Account")
    for code, name, name_zh, kind in CHART:
        Account.objects.update_or_create(code=code, defaults={"name": name, "name_zh": name_zh, "kind": kind})


def lower_fillfactor(apps, schema_editor):
    # The close rewrites every active loan row each night; free space on each page lets PostgreSQL do
    # heap-only (HOT) updates, which skip index maintenance.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE loans_loan SET (fillfactor = 70)")


class Migration(migrations.Migration):
    dependencies = [("loans", "0001_initial")]
    operations = [
        migrations.RunPython(load_chart, migrations.RunPython.noop),
        migrations.RunPython(lower_fillfactor, migrations.RunPython.noop),
    ]
