"""Historical analysis of the container_manager jobs table (``manage.py dcm_job_report``, admin page)."""
