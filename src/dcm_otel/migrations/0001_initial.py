"""The trace explorer's tables (dcm_otel.trace_explorer.models)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="TraceLog",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("trace_id", models.CharField(db_index=True, max_length=32)),
                ("span_id", models.CharField(max_length=16)),
                ("time_ns", models.BigIntegerField()),
                ("level", models.CharField(max_length=16)),
                ("logger", models.CharField(max_length=255)),
                ("message", models.TextField()),
                ("size", models.IntegerField()),
            ],
        ),
        migrations.CreateModel(
            name="TraceSpan",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("trace_id", models.CharField(db_index=True, max_length=32)),
                ("span_id", models.CharField(max_length=16)),
                ("parent_id", models.CharField(blank=True, max_length=16)),
                ("linked_trace_id", models.CharField(blank=True, db_index=True, max_length=32)),
                ("linked_span_id", models.CharField(blank=True, max_length=16)),
                ("name", models.CharField(max_length=255)),
                ("kind", models.CharField(max_length=16)),
                ("service", models.CharField(max_length=255)),
                ("process", models.CharField(max_length=64)),
                ("start_ns", models.BigIntegerField(db_index=True)),
                ("end_ns", models.BigIntegerField()),
                ("error", models.BooleanField(default=False)),
                ("status_message", models.TextField(blank=True)),
                ("route", models.CharField(blank=True, max_length=255)),
                ("http_status", models.IntegerField(null=True)),
                ("job_id", models.CharField(blank=True, db_index=True, max_length=64)),
                ("attributes", models.TextField()),
                ("events", models.TextField()),
                ("size", models.IntegerField()),
            ],
        ),
    ]
