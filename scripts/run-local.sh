#!/usr/bin/env bash
# `make run`: start a local deckhand-server on an embedded SQLite database (creating a user and
# token on first run) and open the desktop app connected to it. State lives in .deckhand/.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=.deckhand
PORT="${DECKHAND_PORT:-8787}"
mkdir -p "$STATE"




SERVER=target/debug/deckhand-server
if [ ! -s "$STATE/token" ]; then
  "$SERVER" user add "$(whoami)" --db "$STATE/server.db" > "$STATE/token"
  echo "run: created user $(whoami); token saved in $STATE/token"
fi

"$SERVER" serve --db "$STATE/server.db" --listen "127.0.0.1:$PORT" > "$STATE/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill -TERM $SERVER_PID 2>/dev/null; wait $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 $SERVER_PID 2>/dev/null || { echo "run: server failed to start, see $STATE/server.log"; exit 1; }
  sleep 0.1
done
echo "run: deckhand-server on http://127.0.0.1:$PORT (log: $STATE/server.log)"

# The app takes these as its settings on first run; later runs keep what the user saved.
export DECKHAND_SERVER="http://127.0.0.1:$PORT"
DECKHAND_TOKEN="$(cat "$STATE/token")"
export DECKHAND_TOKEN
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "run: no display found; starting the app under xvfb-run"
  exec_app() { xvfb-run -a target/debug/deckhand; }
else
  exec_app() { target/debug/deckhand; }
fi
exec_app
