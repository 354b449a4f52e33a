"""Small programs the Prometheus multiprocess tests run as real processes."""
