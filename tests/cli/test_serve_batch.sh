#!/usr/bin/env bash
# herd serve's continuous batching and paged KV cache, through HTTP:
#  - concurrent greedy requests give each the text it gets alone, and the
#    forward passes carried several sequences at once (fewer steps than
#    tokens);
#  - a prompt sent again is found in the prefix cache (cache_n), with block
#    size 1 wholly, so its last token is recomputed in a copy of its block
#    (copy-on-write), and the text is the same;
#  - with a pool that holds one sequence, concurrent requests wait in the
#    queue for blocks (kv_pool_waits_total) and all complete, correctly;
#  - a stream abandoned half way gives back its sequence and its blocks.
# The servers run with -b 8: no forward pass holds more than 8 tokens, so
# every one takes the few-token kernels, whose sums for a token do not
# depend on the other tokens of the batch; larger batches take the GEMM
# kernels, whose rounding differs slightly, and greedy texts could then part
# at a near-tie for reasons that have nothing to do with batching.
# Exit 77 when curl is not installed.
set -u
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
. "$(dirname "$0")/lib.sh"
model="${HERD_SOURCE:-.}/models/herd-kjv.gguf"
[ -f "$model" ] || model="$HERD_BIN/models/herd-random.gguf"
py=/usr/bin/python3; [ -x "$py" ] || py=python3
pid=""
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT

. "$(dirname "$0")/serve_lib.sh"
start() { serve_start 19500 -t 1 -b 8 "$@"; }
stop() { kill -TERM "$pid"; wait "$pid"; pid=""; }
metric() { curl -s "$url/metrics" | awk -v m="herd_$1" '$1 == m {print $2}'; }
# complete OUT PROMPT MAX: a greedy completion's JSON into $tmp/OUT.
complete() {
  curl -s "$url/v1/completions" -o "$tmp/$1" \
    -d "{\"prompt\": \"$2\", \"max_tokens\": $3, \"temperature\": 0}"
}
field() { "$py" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$tmp/$1" "$2"; }
prompts=("In the beginning God" "And the LORD said unto Moses" "Blessed are the meek" \
         "The LORD is my shepherd" "And it came to pass" "Thou shalt not")

# ---- concurrent requests: each as alone, several sequences per step ----
start -np 6 -c 4096
for i in "${!prompts[@]}"; do complete "alone$i" "${prompts[$i]}" 32; done
steps0=$(metric batch_steps_total) tok0=$(metric tokens_predicted_total)
jobs=()
for i in "${!prompts[@]}"; do complete "together$i" "${prompts[$i]}" 32 & jobs+=($!); done
wait "${jobs[@]}"
steps=$(( $(metric batch_steps_total) - steps0 )) toks=$(( $(metric tokens_predicted_total) - tok0 ))
same=0
for i in "${!prompts[@]}"; do
  [ "$(field "alone$i" 'j["choices"][0]["text"]')" = "$(field "together$i" 'j["choices"][0]["text"]')" ] \
    && [ -n "$(field "alone$i" 'j["choices"][0]["text"]')" ] && same=$((same + 1))
done
[ "$same" = "${#prompts[@]}" ] && ok "6 concurrent greedy requests: each the text it gets alone" \
  || bad "concurrent requests: only $same of ${#prompts[@]} texts as alone"
[ "$toks" -gt 0 ] && [ "$steps" -lt "$toks" ] \
  && ok "batched: $toks tokens in $steps forward passes" \
  || bad "not batched: $toks tokens in $steps forward passes"
[ "$(metric kv_blocks_used)" = 0 ] && [ "$(metric requests_running)" = 0 ] \
  && ok "all blocks back after the requests" || bad "blocks still held: $(metric kv_blocks_used)"

# ---- the prefix cache: a prompt sent again is not computed again ----
long="In the beginning God created the heaven and the earth. And the earth was without form, and void"
complete first "$long" 16
complete again "$long" 16
n=$(field first 'j["usage"]["prompt_tokens"]'); c1=$(field first 'j["timings"]["cache_n"]'); c2=$(field again 'j["timings"]["cache_n"]')
[ "$c1" = 0 ] && [ "$c2" -ge $(( n / 16 * 16 - 16 )) ] && [ "$c2" -gt 0 ] \
  && [ "$(field first 'j["choices"][0]["text"]')" = "$(field again 'j["choices"][0]["text"]')" ] \
  && ok "prefix cache: $c2 of $n prompt tokens reused, same text" \
  || bad "prefix cache: cache_n $c1 then $c2 of $n"
# ---- an abandoned stream gives back its sequence and blocks ----
# 3000 tokens take far longer than the wait for the first chunk; the
# generation must stop well before them.
before=$(metric tokens_predicted_total)
curl -sN "$url/v1/completions" \
  -d '{"prompt": "In", "max_tokens": 3000, "temperature": 0, "stream": true}' >"$tmp/cut" 2>/dev/null &
cpid=$!
for _ in $(seq 1 50); do grep -q '^data: {' "$tmp/cut" 2>/dev/null && break; sleep 0.1; done
kill $cpid 2>/dev/null; wait $cpid 2>/dev/null
for _ in $(seq 1 50); do [ "$(metric kv_blocks_used)" = 0 ] && break; sleep 0.1; done
cut=$(( $(metric tokens_predicted_total) - before ))
[ "$(metric kv_blocks_used)" = 0 ] && [ "$(metric requests_running)" = 0 ] && [ "$cut" -lt 2000 ] \
  && ok "abandoned stream: stopped after $cut tokens, its sequence and blocks freed" \
  || bad "abandoned stream: $cut tokens, $(metric kv_blocks_used) blocks, $(metric requests_running) running"
stop

# Block size 1: the whole prompt is cached, its last token is computed in a
# copy of its block (copy-on-write).
start -np 2 --block-size 1
complete first "$long" 16
complete again "$long" 16
c2=$(field again 'j["timings"]["cache_n"]')
[ "$c2" = $((n - 1)) ] && [ "$(field first 'j["choices"][0]["text"]')" = "$(field again 'j["choices"][0]["text"]')" ] \
  && ok "copy-on-write: $c2 of $n tokens shared, the last recomputed in a copy, same text" \
  || bad "copy-on-write: cache_n $c2 of $n"
stop

# ---- a pool for one sequence: the others wait, none fails ----
start -np 4 -c 64 --block-size 16 --kv-blocks 5
for i in 0 1 2 3; do complete "solo$i" "${prompts[$i]}" 40; done
jobs=()
for i in 0 1 2 3; do complete "queued$i" "${prompts[$i]}" 40 & jobs+=($!); done
wait "${jobs[@]}"
same=0
for i in 0 1 2 3; do
  [ "$(field "solo$i" 'j["choices"][0]["text"]')" = "$(field "queued$i" 'j["choices"][0]["text"]')" ] && same=$((same + 1))
done
waits=$(metric kv_pool_waits_total)
[ "$same" = 4 ] && [ "${waits:-0}" -ge 1 ] \
  && ok "pool for one sequence: $waits requests waited for blocks, all 4 complete and right" \
  || bad "full pool: $same of 4 right, $waits waits"

stop

# Flags out of range are refused.
expect_error "--kv-blocks too small" "KV pool" -- "$herd" serve -m "$model" --port 0 -c 256 --kv-blocks 3
expect_error "--parallel 0" "np" -- "$herd" serve -m "$model" --port 0 -np 0
exit $fail
