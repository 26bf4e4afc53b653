# moa-bot in a container: `docker build -t moa-bot .` then
# `docker run --env-file .env -v moa-data:/data -p 3000:3000 moa-bot` (see compose.yaml).
FROM python:3.11-slim

# A user of its own: the bot never needs root.
RUN useradd --create-home --uid 10001 moa && mkdir /data && chown moa /data
WORKDIR /app
COPY . /app

# The README's install step.
RUN pip install --no-cache-dir -e .

USER moa
# The database lives on the volume; /healthz and /metrics listen on MOA_STATUS_PORT (and on SLACK_PORT
# in Slack HTTP mode).
ENV MOA_DB_PATH=/data/moa-bot.db \
    MOA_STATUS_PORT=8080 \
    PYTHONUNBUFFERED=1
VOLUME /data
EXPOSE 3000 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"

CMD ["moa-bot", "run"]
