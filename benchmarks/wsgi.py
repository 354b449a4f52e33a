"""The WSGI app gunicorn serves: the configuration named by ``BENCH_CONFIG``, applied in the worker."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from benchmarks import configs

configs.apply(os.environ["BENCH_CONFIG"])
application = get_wsgi_application()
