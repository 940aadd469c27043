# Retro: a small, non-root image. Build stage compiles wheels; the final stage has no build tools.
# Every version comes from constraints.txt (`make lock`), the set `make audit` checks: retro's dependencies, its build
# backend (--build-constraint, hence pip from the lock first) and the image's own pip, setuptools and wheel.
FROM python:3.11-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md constraints.txt ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY templates ./templates
COPY sandbox ./sandbox
RUN pip install --no-cache-dir -c constraints.txt --upgrade pip \
 && pip wheel --no-cache-dir -c constraints.txt --build-constraint constraints.txt --wheel-dir /wheels \
      . pip setuptools wheel

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORT=3000 HOST=0.0.0.0 \
    DATABASE_URL=sqlite+aiosqlite:////data/retro.db RETRO_ARTIFACTS_DIR=/data/artifacts
RUN useradd --create-home --uid 10001 retro && mkdir -p /data/artifacts && chown -R retro:retro /data
COPY --from=build /wheels /wheels
COPY --from=build /src/constraints.txt /wheels/
RUN pip install --no-cache-dir --no-index --find-links /wheels -c /wheels/constraints.txt \
      --upgrade pip setuptools wheel retro \
 && rm -rf /wheels
USER retro
WORKDIR /home/retro
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os,urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT','3000'), timeout=4).status == 200 else 1)"
ENTRYPOINT ["retro"]
CMD ["serve"]
