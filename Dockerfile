# TraceFix-RL OpenEnv server (Hugging Face Space / `docker run -p 7860:7860 IMAGE`).
# `TraceFixRLEnv.from_docker_image(IMAGE)` sets PORT=8000, the port OpenEnv's local provider maps.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=7860 \
    TRACEFIX_DB=/home/app/data/trajectories.sqlite3

RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin app

WORKDIR /home/app/src
COPY --chown=app:app . .
# The server extra pulls in openenv; it is named here too so the runtime pin is explicit.
RUN pip install ".[server]" "openenv>=0.10,<0.11"

USER app
RUN mkdir -p /home/app/data

EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '7860'), timeout=4)"]

CMD ["python", "-m", "tracefix_rl.server"]
