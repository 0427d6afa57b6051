from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_identity_corrections")]
    operations = [
        migrations.AddIndex("customer", models.Index(fields=["id"], condition=models.Q(kind="company"),
                                                     name="customer_company")),
    ]
