from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("org", "0002_token_revocation_login_throttle")]

    operations: list = []
