#!/usr/bin/env bash
# The command line as a user meets it: help, the shipped model, and bad
# input of every kind giving a one-line error and a non-zero exit, no crash.
set -u
. "$(dirname "$0")/lib.sh"

for cmd in run info bench; do
  "$herd" $cmd --help >"$tmp/out" 2>&1 && grep -q "usage: herd $cmd" "$tmp/out" \
    && ok "$cmd --help" || bad "$cmd --help"
done
"$herd" --help | grep -q "run" && ok "herd --help" || bad "herd --help"
expect_error "unknown command" "unknown command" -- "$herd" frobnicate

# The model that ships: runs with no -m and streams text.
"$herd" run -p "Hello" -n 16 --seed 1 -t 2 >"$tmp/out" 2>"$tmp/err" \
  && grep -q "generation: 16 tokens" "$tmp/err" && grep -q "^Hello" "$tmp/out" \
  && ok "herd run with the shipped model" || { bad "herd run with the shipped model"; cat "$tmp/err"; }

m="$HERD_BIN/models/herd-random.gguf"
expect_error "missing model" "no such file" -- "$herd" run -m "$tmp/nope.gguf" -n 1
head -c 1000 "$m" >"$tmp/trunc.gguf"
expect_error "truncated gguf" "trunc.gguf" -- "$herd" run -m "$tmp/trunc.gguf" -n 1
: >"$tmp/empty.bin"
expect_error "empty file" "empty.bin" -- "$herd" run -m "$tmp/empty.bin" -n 1
head -c 5000 /dev/urandom >"$tmp/junk.bin"
expect_error "random bytes" "junk.bin" -- "$herd" run -m "$tmp/junk.bin" -n 1
expect_error "-n not a number" "-n" -- "$herd" run -n many
expect_error "-t out of range" "threads\|-t" -- "$herd" run -t 0
expect_error "--top-p out of range" "top-p" -- "$herd" run --top-p 1.5
expect_error "--temp negative" "temp" -- "$herd" run --temp -1
expect_error "--seed negative" "seed" -- "$herd" run --seed -3
expect_error "flag without value" "needs a value" -- "$herd" run -p
expect_error "unknown option" "unknown option" -- "$herd" run --frob
long=$(printf 'word %.0s' $(seq 1 200))
expect_error "prompt longer than the context" "context" -- "$herd" run -c 32 -p "$long" -n 1
"$herd" bench -m "$m" -p 8 -n 4 -r 2 -t 2 >"$tmp/out" 2>"$tmp/err" \
  && [ "$(grep -c '^rep ' "$tmp/out")" = 2 ] && grep -q '^pp_tok_s=[0-9]' "$tmp/out" \
  && grep -q '^tg_tok_s=[0-9]' "$tmp/out" && ok "herd bench" || { bad "herd bench"; cat "$tmp/out" "$tmp/err"; }
"$herd" bench -m "$m" -p 8 -n 4 -r 2 -t 2 --json >"$tmp/out" 2>"$tmp/err" \
  && /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["reps"]==2 and len(d["tg_reps"])==2 and d["pp_tok_s"]>0 and d["peak_rss_mib"]>0' "$tmp/out" \
  && ok "herd bench --json" || { bad "herd bench --json"; cat "$tmp/out" "$tmp/err"; }
# --no-mmap reads the weights into memory: the same greedy ids as the map,
# and the same errors for a missing or truncated file.
"$herd" run -p "Hello" -n 24 --temp 0 --ids -t 2 >"$tmp/mapped" 2>/dev/null
"$herd" run -p "Hello" -n 24 --temp 0 --ids -t 2 --no-mmap >"$tmp/copied" 2>/dev/null
[ -s "$tmp/mapped" ] && cmp -s "$tmp/mapped" "$tmp/copied" && ok "run --no-mmap: the same ids" \
  || { bad "run --no-mmap: the same ids"; cat "$tmp/mapped" "$tmp/copied"; }
"$herd" bench -m "$m" -p 8 -n 4 -r 1 -t 2 --no-mmap >"$tmp/out" 2>"$tmp/err" \
  && grep -q '^tg_tok_s=[0-9]' "$tmp/out" && ok "bench --no-mmap" || { bad "bench --no-mmap"; cat "$tmp/err"; }
expect_error "--no-mmap, missing model" "no such file" -- "$herd" run --no-mmap -m "$tmp/nope.gguf" -n 1
expect_error "--no-mmap, truncated gguf" "trunc.gguf" -- "$herd" run --no-mmap -m "$tmp/trunc.gguf" -n 1
expect_error "bench without -m" "required" -- "$herd" bench
expect_error "bench -r 0" "-r" -- "$herd" bench -m "$m" -r 0
expect_error "unknown preset" "unknown preset" -- "$herd" info --preset llama9-1b

shared="${HERD_SHARED:-}"
if [ -f "$shared/models/stories260K.bin" ]; then
  s="$shared/models/stories260K.bin"
  expect_error "llama2.c model without tokenizer" "no tokenizer" -- "$herd" run -m "$s" -p "Hi" -n 1
  if [ -f "$shared/tokenizers/llama2/tokenizer.model" ]; then
    expect_error "tokenizer of another vocabulary" "32000" -- \
      "$herd" run -m "$s" -z "$shared/tokenizers/llama2/tokenizer.model" -p "Hi" -n 1
  fi
  head -c 500000 "$s" >"$tmp/trunc.bin"
  expect_error "truncated llama2.c checkpoint" "truncated" -- "$herd" run -m "$tmp/trunc.bin" --ids -n 1
  "$herd" info -m "$s" | grep -q "n_kv_heads:    4 (GQA)" && ok "info -m stories260K" || bad "info -m stories260K"
else
  echo "note: shared/ not found, skipping the stories260K checks"
fi
exit $fail
