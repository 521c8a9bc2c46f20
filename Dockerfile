# Evidence archiver: the daemon (intake, capture, web pages) on SQLite and /data.

# ReplayWeb.page's own files, from its pinned npm package: the archiver serves them to
# replay snapshots on the source page (web.replay_viewer, docs/web.md#replay); no CDN.
FROM node:20-bookworm-slim AS replay
WORKDIR /tmp/replay
RUN npm pack --silent replaywebpage@2.5.3 \
 && mkdir /replaywebpage \
 && tar xzf replaywebpage-2.5.3.tgz -C /replaywebpage --strip-components=1 \
      package/ui.js package/sw.js package/LICENSE package/package.json

FROM python:3.11-slim-bookworm

# Chromium and ffmpeg from Debian (capture uses them); fonts that cover Cyrillic and
# Kazakh (ә ғ қ ң ө ұ ү һ і) so screenshots show the text, not boxes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      chromium ffmpeg fonts-dejavu fonts-noto-core ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 archiver \
 && mkdir /data && chown archiver:archiver /data
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY archiver ./archiver
COPY config ./config
RUN pip install --no-cache-dir -c constraints.txt ".[postgres]"
COPY --from=replay /replaywebpage /opt/replaywebpage

USER archiver
# Inside the container the pages must listen on 0.0.0.0 to be reachable through the
# published port; the archiver refuses that until a token exists (docs/web.md):
#   docker compose run --rm archiver token create --role admin --name YOUR-NAME
ENV ARCHIVER_STORAGE__ROOT=/data \
    ARCHIVER_CAPTURE__BROWSER=/usr/bin/chromium \
    ARCHIVER_WEB__HOST=0.0.0.0 \
    ARCHIVER_WEB__REPLAY_VIEWER=/opt/replaywebpage \
    ARCHIVER_WEB__PORT=8080
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
# SIGTERM (docker stop) stops the daemon within 10 s, exit 0 (docs/web.md); allow 15 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["archiver"]
CMD ["run"]
