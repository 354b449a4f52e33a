"""A scripted container_manager workload, run in a subprocess: see scenario.py."""
