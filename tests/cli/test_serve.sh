#!/usr/bin/env bash
# herd serve against herd run and its own non-streamed answers: a greedy
# completion gives herd run's text; a stream's chunks join to the same text
# and end with [DONE]; stop strings cut both where the text has them; chat
# and /v1/models shapes; /tokenize and /detokenize as herd tokenize; 400,
# 404, 413 and 401 with OpenAI-style JSON errors; a client that hangs up
# mid-stream stops its generation; SIGTERM lets the running request finish
# and exits 0. Exit 77 when curl is not installed.
set -u
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
herd="$HERD_BIN/herd"
model="${HERD_SOURCE:-.}/models/herd-kjv.gguf"
[ -f "$model" ] || model="$HERD_BIN/models/herd-random.gguf"
py=/usr/bin/python3; [ -x "$py" ] || py=python3
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }
key=s3cret

"$herd" serve --help | grep -q "usage: herd serve" && ok "serve --help" || bad "serve --help"
"$herd" --help | grep -q "serve" && ok "herd --help lists serve" || bad "herd --help"

. "$(dirname "$0")/serve_lib.sh"
serve_start 18000 -c 4096 -t 2 --api-key "$key"
curl -s "$url/health" >"$tmp/health"
ok "listening on $port, /health: $(cat "$tmp/health")"

# api PATH [curl args...]: POST (or GET without -d) with the key; the body
# goes to $tmp/body, the status is printed.
api() { local p="$1"; shift; curl -s -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $key" "$@" "$url$p"; }
# js EXPR: evaluates a Python expression over j = the JSON in $tmp/body.
js() { "$py" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$tmp/body" "$1"; }
# sse FILE: checks an event stream and prints the joined text; exit 1 when
# a chunk is not JSON or [DONE] is not last. Writes the last chunk's
# finish_reason to FILE.finish.
sse() {
  "$py" - "$1" <<'PY'
import json, sys
raw = open(sys.argv[1], encoding="utf-8").read()
events = [e for e in raw.split("\n\n") if e]
assert events and events[-1] == "data: [DONE]", events[-1:]
text, finish = "", None
for e in events[:-1]:
    assert e.startswith("data: "), e
    c = json.loads(e[6:])["choices"][0]
    text += c.get("text") or c.get("delta", {}).get("content") or ""
    finish = c["finish_reason"] or finish
open(sys.argv[1] + ".finish", "w").write(str(finish))
sys.stdout.write(text)
PY
}

# ---- a greedy completion is herd run's text ----
prompt="In the beginning God"
n=24
"$herd" run -m "$model" -p "$prompt" -n $n --temp 0 -t 2 >"$tmp/run" 2>/dev/null
code=$(api /v1/completions -d "{\"prompt\": \"$prompt\", \"max_tokens\": $n, \"temperature\": 0}")
printf '%s' "$(js 'j["choices"][0]["text"]'; echo x)" >"$tmp/text"   # keeps trailing newlines
truncate -s -2 "$tmp/text"
"$py" -c 'import sys
run = open(sys.argv[1], "rb").read(); got = open(sys.argv[2], "rb").read()
p = sys.argv[3].encode()
sys.exit(not (run.startswith(p) and run[len(p):-1] == got))' "$tmp/run" "$tmp/text" "$prompt" \
  && [ "$code" = 200 ] && ok "completion = herd run: $(head -c 60 "$tmp/text" | tr '\n' ' ')" \
  || { bad "completion vs herd run ($code)"; cat "$tmp/body"; echo; cat "$tmp/run"; }
n_prompt=$("$herd" tokenize -m "$model" --bos -p "$prompt" | wc -w)
got=$(js '(j["object"], j["model"], j["choices"][0]["finish_reason"], j["usage"]["prompt_tokens"], j["usage"]["completion_tokens"], j["usage"]["total_tokens"], j["id"][:5])')
[ "$got" = "('text_completion', '$(basename "$model")', 'length', $n_prompt, $n, $((n_prompt + n)), 'cmpl-')" ] \
  && ok "completion shape: $got" || bad "completion shape: $got"
cp "$tmp/body" "$tmp/whole.json"

# ---- streaming: the same text in chunks, then finish_reason, then [DONE] ----
curl -sN -H "Authorization: Bearer $key" "$url/v1/completions" \
  -d "{\"prompt\": \"$prompt\", \"max_tokens\": $n, \"temperature\": 0, \"stream\": true}" >"$tmp/stream"
if sse "$tmp/stream" >"$tmp/stext" && cmp -s "$tmp/text" "$tmp/stext" && [ "$(cat "$tmp/stream.finish")" = length ]; then
  ok "stream: $(grep -c '^data: ' "$tmp/stream") events join to the same text, [DONE] last"
else bad "stream"; head -c 600 "$tmp/stream"; fi

# ---- stop strings: the text up to the first occurrence, finish "stop" ----
# (the first run of letters after the third character, as the stop string)
stop=$("$py" -c 'import re, sys; m = re.search("[A-Za-z]{2,6}", open(sys.argv[1]).read()[3:]); print(m.group(0) if m else "")' "$tmp/text")
want=$("$py" -c 'import sys; t = open(sys.argv[1]).read(); print(repr(t[:t.index(sys.argv[2])]))' "$tmp/text" "${stop:-none}" 2>/dev/null)
[ -n "$stop" ] || echo "note: no letters in the text: no stop string test"
[ -n "$stop" ] && {
code=$(api /v1/completions -d "{\"prompt\": \"$prompt\", \"max_tokens\": $n, \"temperature\": 0, \"stop\": [\"zzz\", \"$stop\"]}")
got=$(js 'repr(j["choices"][0]["text"])'); fin=$(js 'j["choices"][0]["finish_reason"]')
[ "$code" = 200 ] && [ "$got" = "$want" ] && [ "$fin" = stop ] && ok "stop \"$stop\": $got" \
  || bad "stop \"$stop\": want $want, got $got $fin"
curl -sN -H "Authorization: Bearer $key" "$url/v1/completions" \
  -d "{\"prompt\": \"$prompt\", \"max_tokens\": $n, \"temperature\": 0, \"stream\": true, \"stop\": \"$stop\"}" >"$tmp/stream"
got=$(sse "$tmp/stream" | "$py" -c 'import sys; print(repr(sys.stdin.read()))')
[ "$got" = "$want" ] && [ "$(cat "$tmp/stream.finish")" = stop ] && ok "streamed stop: $got" \
  || bad "streamed stop: want $want got $got"
}

# ---- chat: shape, and the stream gives the same reply ----
chat='"messages": [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Who made the heaven?"}], "max_tokens": 16, "temperature": 0'
code=$(api /v1/chat/completions -d "{$chat}")
got=$(js '(j["object"], j["choices"][0]["index"], j["choices"][0]["message"]["role"], type(j["choices"][0]["message"]["content"]).__name__, j["choices"][0]["finish_reason"] in ("stop", "length"), j["usage"]["total_tokens"] == j["usage"]["prompt_tokens"] + j["usage"]["completion_tokens"], j["usage"]["prompt_tokens"] > 10)')
[ "$code" = 200 ] && [ "$got" = "('chat.completion', 0, 'assistant', 'str', True, True, True)" ] \
  && ok "chat shape: $(js 'repr(j["choices"][0]["message"]["content"])')" || { bad "chat shape ($code): $got"; cat "$tmp/body"; }
js 'j["choices"][0]["message"]["content"]' >"$tmp/chat"
curl -sN -H "Authorization: Bearer $key" "$url/v1/chat/completions" -d "{$chat, \"stream\": true}" >"$tmp/stream"
sse "$tmp/stream" >"$tmp/schat" && echo >>"$tmp/schat" && cmp -s "$tmp/chat" "$tmp/schat" \
  && grep -q '"object":"chat.completion.chunk"' "$tmp/stream" && ok "chat stream: same reply" \
  || { bad "chat stream"; head -c 600 "$tmp/stream"; }

# ---- /v1/models, /metrics ----
code=$(api /v1/models)
[ "$code" = 200 ] && [ "$(js '(j["object"], j["data"][0]["id"], j["data"][0]["object"])')" = "('list', '$(basename "$model")', 'model')" ] \
  && ok "/v1/models" || { bad "/v1/models"; cat "$tmp/body"; }
curl -s -H "Authorization: Bearer $key" "$url/metrics" >"$tmp/metrics"
out=$(awk '/^herd_tokens_predicted_total /{print $2}' "$tmp/metrics")
grep -q '^herd_requests_total [1-9]' "$tmp/metrics" && [ "${out:-0}" -ge $((2 * n)) ] \
  && grep -q '^herd_predicted_tokens_seconds [0-9.]*$' "$tmp/metrics" \
  && ok "/metrics: $out tokens out" || { bad "/metrics"; cat "$tmp/metrics"; }

# ---- /tokenize and /detokenize as herd tokenize ----
text='And God said, Let there be light: and there was light.'
want=$("$herd" tokenize -m "$model" -p "$text")
code=$(api /tokenize -d "{\"content\": \"$text\"}")
got=$(js '" ".join(map(str, j["tokens"]))')
[ "$code" = 200 ] && [ "$got" = "$want" ] && ok "/tokenize = herd tokenize: $got" || bad "/tokenize: $got vs $want"
code=$(api /detokenize -d "{\"tokens\": [$(echo "$want" | tr ' ' ',')]}")
[ "$code" = 200 ] && [ "$(js 'j["content"]')" = "$text" ] && ok "/detokenize round trip" || { bad "/detokenize"; cat "$tmp/body"; }

# ---- errors: status and an OpenAI-style body ----
# err WANT_STATUS WANT_PARAM DESCRIPTION -- curl args for api
err() {
  local want="$1" param="$2" what="$3"; shift 4
  local code; code=$(api "$@")
  local got; got=$(js '(j["error"]["type"], j["error"]["param"], bool(j["error"]["message"]))' 2>/dev/null)
  if [ "$code" = "$want" ] && [[ "$got" == *"'$param'"* || ( "$param" = None && "$got" == *", None, True)" ) ]] && [[ "$got" == *True\) ]]; then
    ok "$what: $code $(js 'j["error"]["message"]')"
  else bad "$what: $code $got"; cat "$tmp/body"; echo; fi
}
err 400 None "invalid JSON" -- /v1/completions -d '{"prompt": "x",'
err 400 None "not an object" -- /v1/completions -d '[1, 2]'
err 400 prompt "missing prompt" -- /v1/completions -d '{"max_tokens": 3}'
err 400 messages "missing messages" -- /v1/chat/completions -d '{"prompt": "x"}'
err 400 messages "bad role" -- /v1/chat/completions -d '{"messages": [{"role": "robot", "content": "x"}]}'
err 400 temperature "temperature a string" -- /v1/completions -d '{"prompt": "x", "temperature": "hot"}'
err 400 max_tokens "max_tokens a fraction" -- /v1/completions -d '{"prompt": "x", "max_tokens": 2.5}'
err 400 max_tokens "max_tokens beyond the context" -- /v1/completions -d '{"prompt": "x", "max_tokens": 5000}'
err 400 prompt "prompt beyond the context" -- /v1/completions -d "{\"prompt\": \"$("$py" -c 'print("light " * 5000)')\"}"
err 400 n "n = 2" -- /v1/completions -d '{"prompt": "x", "n": 2}'
err 400 stop "stop a number" -- /v1/completions -d '{"prompt": "x", "stop": 3}'
err 400 content "tokenize without content" -- /tokenize -d '{"text": "x"}'
err 400 tokens "detokenize out of range" -- /detokenize -d '{"tokens": [1, 99999999]}'
err 404 None "unknown path" -- /v1/nothing
err 404 None "GET on a POST endpoint" -- /v1/completions
head -c 2000000 /dev/zero | tr '\0' 'a' >"$tmp/big"
err 413 None "a 2 MB body" -- /v1/completions --data-binary @"$tmp/big"
err 413 None "a 2 MB chunked body" -- /v1/completions -H "Transfer-Encoding: chunked" --data-binary @"$tmp/big"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' "$url/v1/completions" -d '{"prompt": "x"}')
[ "$code" = 401 ] && [ "$(js 'j["error"]["type"]')" = authentication_error ] && ok "no API key: 401" || bad "no API key: $code"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer nope" "$url/metrics")
[ "$code" = 401 ] && js 'j["error"]["message"]' >/dev/null && ok "wrong API key: 401" || bad "wrong API key: $code"

# ---- a client that hangs up mid-stream stops its generation ----
# 3000 tokens take seconds; after the hang-up the next request must not wait
# for them, and the metrics count far fewer.
before=$(curl -s -H "Authorization: Bearer $key" "$url/metrics" | awk '/^herd_tokens_predicted_total /{print $2}')
# Hang up once the stream has started (at most 5 s of waiting for it).
curl -sN -H "Authorization: Bearer $key" "$url/v1/completions" \
  -d '{"prompt": "In", "max_tokens": 3000, "temperature": 0, "stream": true}' >"$tmp/cut" 2>/dev/null &
cpid=$!
for _ in $(seq 1 50); do grep -q '^data: {' "$tmp/cut" 2>/dev/null && break; sleep 0.1; done
kill $cpid 2>/dev/null; wait $cpid 2>/dev/null
t0=$(date +%s.%N)
code=$(api /v1/completions -d '{"prompt": "In", "max_tokens": 4, "temperature": 0}')
t1=$(date +%s.%N)
after=$(curl -s -H "Authorization: Bearer $key" "$url/metrics" | awk '/^herd_tokens_predicted_total /{print $2}')
grep -q '^data: {' "$tmp/cut" && [ "$code" = 200 ] && curl -sf "$url/health" >/dev/null \
  && [ $((after - before - 4)) -lt 2000 ] && "$py" -c "import sys; sys.exit(not $t1 - $t0 < 3)" \
  && ok "hang-up mid-stream: generation stopped after $((after - before - 4)) tokens; next request in $("$py" -c "print('%.2f' % ($t1 - $t0))") s" \
  || bad "hang-up mid-stream: $code, $((after - before)) tokens"

# ---- SIGTERM: the running request finishes, exit 0 ----
curl -sN -H "Authorization: Bearer $key" "$url/v1/completions" \
  -d '{"prompt": "In", "max_tokens": 1000, "temperature": 0, "stream": true}' >"$tmp/last" 2>/dev/null &
cpid=$!
for _ in $(seq 100); do [ -s "$tmp/last" ] && break; sleep 0.02; done
kill -TERM "$pid"
wait "$pid"; rc=$?; pid=""
wait "$cpid"
sse "$tmp/last" >/dev/null && [ "$(cat "$tmp/last.finish")" = length ] && [ $rc = 0 ] \
  && ok "SIGTERM: the running stream finished ($(grep -c '^data: {' "$tmp/last") events), exit 0" \
  || { bad "SIGTERM: exit $rc"; tail -c 300 "$tmp/last"; cat "$tmp/server.err"; }
exit $fail
