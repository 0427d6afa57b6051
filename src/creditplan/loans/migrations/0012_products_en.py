"""Product names in English beside the Chinese ones (issue 20): `Product.name_en`, filled for the demo's products
and the bulk generator's (the page shows the name in its own language, never the product code)."""

from django.db import migrations, models

ENGLISH = {
    "consumer": "Personal consumer loan", "business": "Small business loan", "mortgage": "Home mortgage",
    "bulk-consumer": "Bulk: personal consumer loan", "bulk-micro": "Bulk: small business loan",
    "bulk-float": "Bulk: floating-rate loan",
}


def name_products(apps, schema_editor):  # type: ignore[no-untyped-def]
    Product = apps.get_model("loans", "Product")
    for code, name in ENGLISH.items():
        Product.objects.filter(code=code, name_en="").update(name_en=name)


class Migration(migrations.Migration):
    dependencies = [("loans", "0011_segment")]

    operations = [
        migrations.AddField(model_name="product", name="name_en",
                            field=models.CharField(blank=True, default="", max_length=100)),
        migrations.RunPython(name_products, migrations.RunPython.noop),
    ]
