from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("org", "0002_token_revocation_login_throttle")]

    operations: list = [
        migrations.AddField(
            model_name="user",
            name="must_change_password",
            field=models.BooleanField(default=False, verbose_name="must change password"),
        ),
    ]
