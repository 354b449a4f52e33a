"""The two measured views' paths (importable before Django is set up)."""

TRIVIAL = "/trivial/"
QUERIES = "/queries/"
VIEWS = (TRIVIAL, QUERIES)
BUSY = "/busy/"  # the profiler's benchmark only: CPU work of a given size
