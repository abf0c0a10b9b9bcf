# Shareline's one image: the API (default CMD), the worker (`python worker.py`) and the
# migrate job (`python -m stack.migrate`); see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --user-group shareline \
    && install --directory --owner shareline --group shareline /data

WORKDIR /app

# pyproject.toml names README.md as the readme, so the build needs it.
COPY pyproject.toml README.md ./
COPY settings.py worker.py ./
COPY api ./api
COPY activities ./activities
COPY domain ./domain
COPY integrations ./integrations
COPY models ./models
COPY providers ./providers
COPY relay ./relay
COPY stack ./stack
COPY workflows ./workflows
# the agent desk's static files, served at /desk/ (api/pages.py)
COPY web ./web

RUN pip install --no-cache-dir . \
    && rm -rf build ./*.egg-info

USER shareline

# /data is owned by `shareline`, so a fresh named volume mounted there is writable.
ENV SHARELINE_DATA_DIR=/data

EXPOSE 8000

CMD ["uvicorn", "--factory", "api.app:create_app", "--host", "0.0.0.0", "--port", "8000", "--timeout-graceful-shutdown", "2"]
