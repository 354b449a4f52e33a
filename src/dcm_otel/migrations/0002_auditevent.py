"""The audit store's table (dcm_otel.audit.models)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("dcm_otel", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("time", models.DateTimeField(db_index=True)),
                ("kind", models.CharField(max_length=32)),
                ("user_hash", models.CharField(blank=True, max_length=16)),
                ("address_hash", models.CharField(blank=True, max_length=16)),
                ("route", models.CharField(blank=True, max_length=255)),
            ],
        ),
    ]
