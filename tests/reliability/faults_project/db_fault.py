"""Requests whose PostgreSQL backend is terminated (pg_terminate_backend) while their query runs; prints
what the app saw as JSON: per path, the status, the body and the exception Django got."""

import json
import sys
import threading
import time

import django

django.setup()

import psycopg  # noqa: E402
from django.core.signals import got_request_exception  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from django.test import Client  # noqa: E402

dsn = sys.argv[1]
raised = []
got_request_exception.connect(
    lambda sender, **kwargs: raised.append(type(sys.exc_info()[1]).__qualname__), weak=False
)


def terminate_the_sleeping_query():
    with psycopg.connect(dsn, autocommit=True) as conn:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            killed = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query LIKE 'SELECT pg_sleep(30) /* dcm-fault */%' AND pid <> pg_backend_pid()"
            ).fetchall()
            if killed:
                return
            time.sleep(0.05)


client = Client(raise_request_exception=False)
seen = []
for path in ["/caught/", "/uncaught/", "/ping/"]:
    terminator = threading.Thread(target=terminate_the_sleeping_query)
    if path != "/ping/":
        terminator.start()
    response = client.get(path)
    if path != "/ping/":
        terminator.join()
    close_old_connections()  # what a server does after each request; the test client leaves it out
    seen.append(
        [path, response.status_code, response.content.decode() if response.status_code == 200 else ""]
    )
print(json.dumps({"responses": seen, "raised": raised}))
