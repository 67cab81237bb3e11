#!/usr/bin/env bash
# herd serve through the official OpenAI client (npm `openai`, installed by
# scripts/setup-openai-client.sh into $HERD_OPENAI_PEER or
# ~/.cache/herd-peers/openai-client): chat and completion, each plain and
# streamed, at temperature 0. The streamed text equals the plain one; both
# equal what curl gets from the same server, and the completion is herd
# run --temp 0's text; usage is there; a wrong API key makes the client
# throw its AuthenticationError (401). Exit 77 without node, curl or the
# installed package.
set -u
command -v node >/dev/null || { echo "SKIP: node is not installed"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
peer=${HERD_OPENAI_PEER:-$HOME/.cache/herd-peers/openai-client}
[ -f "$peer/node_modules/openai/package.json" ] || {
  echo "SKIP: no npm package openai under $peer (run scripts/setup-openai-client.sh)"; exit 77; }
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
model="${HERD_SOURCE:-.}/models/herd-kjv.gguf"
[ -f "$model" ] || model="$HERD_BIN/models/herd-random.gguf"
py=/usr/bin/python3; [ -x "$py" ] || py=python3
pid=""
# At exit: SIGTERM (the server finishes and exits), SIGKILL if it lingers.
stop_server() {
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""
}
trap 'stop_server; rm -rf "$tmp"' EXIT
key=op3n-s3same

. "$(dirname "$0")/serve_lib.sh"
serve_start 19000 -c 2048 -t 2 --api-key "$key"

prompt="And God said"
system="Answer briefly."
user="Who made the heaven?"
n=16
node "$here/openai_client.mjs" --peer "$peer" --base "$url/v1" --key "$key" --max-tokens $n \
  --prompt "$prompt" --system "$system" --user "$user" >"$tmp/client.json" 2>"$tmp/client.err" \
  && ok "openai $(
    "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$tmp/client.json"
  ) ran all requests" \
  || { bad "the OpenAI client failed"; cat "$tmp/client.err"; exit 1; }

# The same requests with curl; herd run for the completion.
"$py" - "$tmp" "$prompt" "$system" "$user" $n <<'PY'
import json, sys
tmp, prompt, system, user, n = sys.argv[1:6]
common = {"temperature": 0, "max_tokens": int(n)}
json.dump({**common, "prompt": prompt}, open(tmp + "/cmpl.req", "w"))
json.dump({**common, "messages": [{"role": "system", "content": system},
                                  {"role": "user", "content": user}]}, open(tmp + "/chat.req", "w"))
PY
curl -s -H "Authorization: Bearer $key" "$url/v1/completions" -d @"$tmp/cmpl.req" >"$tmp/cmpl.curl"
curl -s -H "Authorization: Bearer $key" "$url/v1/chat/completions" -d @"$tmp/chat.req" >"$tmp/chat.curl"
"$herd" run -m "$model" -p "$prompt" -n $n --temp 0 -t 2 >"$tmp/run" 2>/dev/null

# check NAME PYTHON-EXPR: over c (the client's JSON), cc / ch (curl's
# completion / chat JSON) and run (herd run's text after the prompt).
check() {
  local r
  r=$("$py" - "$tmp" "$prompt" "$2" <<'PY'
import json, sys
tmp, prompt, expr = sys.argv[1:4]
c = json.load(open(tmp + "/client.json"))
cc = json.load(open(tmp + "/cmpl.curl"))
ch = json.load(open(tmp + "/chat.curl"))
raw = open(tmp + "/run", "rb").read().decode("utf-8", "replace")
run = raw[len(prompt):-1] if raw.startswith(prompt) else None
u_ok = lambda u, n: (isinstance(u, dict) and u["completion_tokens"] == n and u["prompt_tokens"] > 0
                     and u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"])
ok = eval(expr)
print("yes" if ok is True else "no")
print(repr(c["chat"]["text"])[:60], repr(c["completion"]["text"])[:60], sep=" | ")
PY
)
  if [ "$(head -n 1 <<<"$r")" = yes ]; then ok "$1"
  else bad "$1: $(tail -n +2 <<<"$r")"; cat "$tmp/client.json"; fi
}
check "completion: stream = plain ($("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["completion"]["chunks"])' "$tmp/client.json") chunks)" \
  'c["completion"]["stream"] == c["completion"]["text"] and len(c["completion"]["text"]) > 0'
check "completion = curl's" 'c["completion"]["text"] == cc["choices"][0]["text"]'
check "completion = herd run --temp 0" 'c["completion"]["text"] == run'
check "completion: object, finish, usage" \
  'c["completion"]["object"] == "text_completion" and c["completion"]["finish"] == "length" == c["completion"]["stream_finish"] and u_ok(c["completion"]["usage"], 16) and c["completion"]["usage"] == cc["usage"]'
check "chat: stream = plain" 'c["chat"]["stream"] == c["chat"]["text"] and isinstance(c["chat"]["text"], str)'
check "chat = curl's" 'c["chat"]["text"] == ch["choices"][0]["message"]["content"]'
check "chat: object, finish, usage" \
  'c["chat"]["object"] == "chat.completion" and c["chat"]["finish"] in ("stop", "length") and c["chat"]["finish"] == c["chat"]["stream_finish"] and u_ok(c["chat"]["usage"], c["chat"]["usage"]["completion_tokens"]) and 0 < c["chat"]["usage"]["completion_tokens"] <= 16 and c["chat"]["usage"] == ch["usage"]'
check "wrong API key: AuthenticationError, 401" \
  'c["auth"]["isAuthError"] and c["auth"]["status"] == 401 and c["auth"]["name"] == "AuthenticationError"'
echo "chat: $("$py" -c 'import json,sys; print(repr(json.load(open(sys.argv[1]))["chat"]["text"]))' "$tmp/client.json")"
echo "completion: $("$py" -c 'import json,sys; print(repr(json.load(open(sys.argv[1]))["completion"]["text"]))' "$tmp/client.json")"
exit $fail
