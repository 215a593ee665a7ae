# Image for the distributed setup (compose.yaml): API, workers and the one-shot migrate step.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY clickhouse ./clickhouse
COPY ingest ./ingest
COPY api ./api
RUN pip install --no-cache-dir .
USER nobody
ENV ROLETRAIL_DATA_DIR=/tmp/roletrail
EXPOSE 8000
CMD ["roletrail", "serve", "--host", "0.0.0.0", "--no-workers"]
