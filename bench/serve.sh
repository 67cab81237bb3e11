#!/usr/bin/env bash
# herd serve under load: N concurrent streaming clients (1, 4, 8, 16) on
# loopback, each asking for one completion of MAX_TOKENS tokens; prints the
# total generated tokens/s, the median time to first token, and whether every
# response came back complete. The throughput at 8 clients over 1 client is
# the serving issue's figure of merit (continuous batching should make it
# well above 1).
#   bench/serve.sh [MODEL]     Env: CLIENTS="1 4 8 16" MAX_TOKENS=64 THREADS=2 PORT=18555
#                              SERVE_ARGS="-np 16" (more flags for herd serve)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
herd=${HERD_BIN:-$here/build}/herd
model=${1:-$here/models/herd-kjv.gguf}
clients=${CLIENTS:-"1 4 8 16"} max=${MAX_TOKENS:-64} t=${THREADS:-2} port=${PORT:-18555}
"$herd" serve -m "$model" --port "$port" -t "$t" ${SERVE_ARGS:--np 16} 2>/dev/null & pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
printf "herd serve, %s, %d threads, %d tokens per response\n" "$(basename "$model")" "$t" "$max"
printf "  %7s %14s %12s %9s\n" clients total_tok/s ttft_ms complete
/usr/bin/python3 - "$port" "$max" $clients <<'PY'
import json, sys, threading, time, urllib.request
port, max_tokens, counts = int(sys.argv[1]), int(sys.argv[2]), [int(c) for c in sys.argv[3:]]
def client(i, out):
    body = json.dumps({"prompt": "And it came to pass, %d" % i, "max_tokens": max_tokens,
                       "temperature": 1.0, "seed": i, "stream": True}).encode()
    req = urllib.request.Request("http://127.0.0.1:%d/v1/completions" % port, body,
                                 {"Content-Type": "application/json"})
    t0 = time.time(); first = None; n = 0; done = False
    with urllib.request.urlopen(req) as r:
        for line in r:
            line = line.strip()
            if not line.startswith(b"data: "):
                continue
            if line == b"data: [DONE]":
                done = True
                break
            chunk = json.loads(line[6:])
            if chunk["choices"][0].get("text"):
                n += 1
                first = first or time.time() - t0
            if chunk.get("usage"):
                n = chunk["usage"]["completion_tokens"]
    out[i] = (first or 0, n, done)
base = None
for c in counts:
    out = {}
    th = [threading.Thread(target=client, args=(i, out)) for i in range(c)]
    t0 = time.time()
    for x in th: x.start()
    for x in th: x.join()
    wall = time.time() - t0
    toks = sum(v[1] for v in out.values())
    ttft = sorted(v[0] for v in out.values())[len(out) // 2] * 1000
    ok = all(v[2] for v in out.values()) and len(out) == c
    tps = toks / wall
    base = base or tps
    print("  %7d %14.1f %12.0f %9s   (%.2fx one client)" % (c, tps, ttft, "yes" if ok else "NO", tps / base))
PY
