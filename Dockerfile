# costbot: the bot (Slack listeners + scheduler). Configure with environment variables (README).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 MPLBACKEND=Agg

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY handlers ./handlers
COPY jobs ./jobs
COPY storage ./storage
COPY finops ./finops
RUN pip install . \
    && useradd --create-home --uid 10001 costbot \
    && mkdir -p /data && chown costbot /data

USER costbot
WORKDIR /data
# SQLite in /data by default; set COSTBOT_DATABASE_URL=postgresql://... in production.
ENV COSTBOT_DATABASE_URL=sqlite:////data/costbot.db PORT=3000
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"3000\")}/health', timeout=4)"
CMD ["costbot", "run"]
