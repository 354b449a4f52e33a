"""The benchmark app's one model, so the ORM view runs real queries."""
