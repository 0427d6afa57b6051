"""Identity corrections (four eyes) and the audit format of each customer: the records that exist already were
audited with masked values and a clear birth date (format 1) and keep that until their next change; new records
are audited with keyed digests (format 2)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0002_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(  # the rows that exist: format 1
            model_name='customer',
            name='audit_format',
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AlterField(  # new rows: format 2
            model_name='customer',
            name='audit_format',
            field=models.PositiveSmallIntegerField(default=2),
        ),
        migrations.CreateModel(
            name='IdentityCorrection',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('pending', 'pending'), ('approved', 'approved'), ('rejected', 'rejected')], default='pending', max_length=10)),
                ('fields', models.CharField(max_length=100)),
                ('values_enc', models.TextField()),
                ('new_index', models.CharField(blank=True, max_length=64)),
                ('new_masked', models.CharField(blank=True, max_length=40)),
                ('reason', models.TextField()),
                ('customer_version', models.PositiveIntegerField()),
                ('requested_at', models.DateTimeField(auto_now_add=True)),
                ('decided_at', models.DateTimeField(blank=True, null=True)),
                ('decision_note', models.TextField(blank=True)),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='identity_corrections', to='customers.customer')),
                ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('requested_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-id'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('status', 'pending')), fields=('customer',), name='one_pending_identity_correction')],
            },
        ),
    ]
