# Shared by the herd serve tests (sourced): serve_start BASE ARGS... starts
# `herd serve -m $model` with ARGS on a free port near BASE (a few tries),
# waits for /health, and sets $pid, $port and $url; it ends the test when
# no server comes up. Needs $herd, $model and $tmp.
serve_start() {
  local base=$1; shift
  for try in 1 2 3 4 5; do
    port=$((base + ($$ + 197 * try) % 1000))
    "$herd" serve -m "$model" --port "$port" "$@" 2>"$tmp/server.err" &
    pid=$!
    for _ in $(seq 100); do
      if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
        url="http://127.0.0.1:$port"
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""
  done
  echo "FAIL: the server did not start"; cat "$tmp/server.err"; exit 1
}
