# The demo app (examples/demo) with dcm_otel installed from this repository; built by docker-compose.yml
# with the repository root as context.
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir ".[container-manager]"
COPY examples/demo ./examples/demo
WORKDIR /src/examples/demo
ENV DJANGO_SETTINGS_MODULE=demo.settings PYTHONUNBUFFERED=1
EXPOSE 8000
