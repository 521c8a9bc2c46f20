# Evidence archiver: first container image (the daemon on SQLite and /data).
FROM python:3.11-slim-bookworm

# Chromium and ffmpeg from Debian (capture uses them); fonts that cover Cyrillic and Kazakh.
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium ffmpeg fonts-dejavu-core fonts-noto-core \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 archiver
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY archiver ./archiver
COPY config ./config
RUN pip install --no-cache-dir -c constraints.txt ".[postgres]"

USER archiver
ENV ARCHIVER_STORAGE__ROOT=/data \
    ARCHIVER_CAPTURE__BROWSER=/usr/bin/chromium
VOLUME ["/data"]
ENTRYPOINT ["archiver"]
CMD ["run"]
