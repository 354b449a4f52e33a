"""Creates and fills the benchmark's SQLite database once per run: ``python -m benchmarks.prepare``."""

from __future__ import annotations

import django
from django.core.management import call_command


def main() -> None:
    django.setup()
    from benchmarks.shop.models import Item

    call_command("migrate", run_syncdb=True, verbosity=0)
    Item.objects.bulk_create(Item(name=f"item-{i}", price=i) for i in range(50))


if __name__ == "__main__":
    main()
