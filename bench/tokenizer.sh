#!/bin/bash
# Tokenizer throughput: herd's Llama 3 byte-level BPE against Debian's
# python3-sentencepiece on the Llama 2 tokenizer, and herd's own
# SentencePiece tokenizer, all on the same English text, each timed in its
# own process around the encode call only (best of REPS runs after a
# warm-up). herd and sentencepiece run on one thread. When node and the npm package @anush008/tokenizers are there
# ($HERD_PEERS or /root/.cache/herd-peers/hf-tokenizers), Hugging Face
# tokenizers on Llama 3's tokenizer.json is timed too.
#
#   bench/tokenizer.sh            (BUILD=build SHARED=../shared SIZE_MB=4 REPS=5)
#
# The text: Debian's /usr/share/common-licenses (every file, sorted by
# name) repeated until it holds SIZE_MB megabytes.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build}
SHARED=${SHARED:-${HERD_SHARED:-$SRC/../shared}}
SIZE_MB=${SIZE_MB:-4}
REPS=${REPS:-5}
PEERS=${HERD_PEERS:-/root/.cache/herd-peers/hf-tokenizers}
L3=$SHARED/tokenizers/llama3/tokenizer.model
L3J=$SHARED/tokenizers/llama3/tokenizer.json
L2=$SHARED/tokenizers/llama2/tokenizer.model
PY=/usr/bin/python3
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

for f in "$L3" "$L2"; do
  [ -f "$f" ] || { echo "missing $f (set SHARED)" >&2; exit 1; }
done
if [ ! -f "$BUILD/libherd.a" ]; then
  cmake -S "$SRC" -B "$BUILD" -DHERD_SHARED="$SHARED" >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target herdlib >/dev/null
fi

# The text.
TEXT=$WORK/text.txt
mapfile -t FILES < <(find /usr/share/common-licenses -type f | LC_ALL=C sort)
: > "$TEXT"
while [ "$(stat -c %s "$TEXT")" -lt $((SIZE_MB * 1000000)) ]; do
  cat "${FILES[@]}" >> "$TEXT"
done
BYTES=$(stat -c %s "$TEXT")
echo "text: $BYTES bytes of /usr/share/common-licenses, repeated"

cc -O2 -std=c11 -I"$SRC/include" "$SRC/bench/tokenize_speed.c" "$BUILD/libherd.a" \
  $(pkg-config --libs libpcre2-8 libcjson openblas) -fopenmp -lm -o "$WORK/tokenize_speed"

# "name MB/s tokens/s tokens" per line into $WORK/results.
run() { # name command...
  local name=$1; shift
  local out
  out=$("$@") || { echo "$name: failed" >&2; return 1; }
  echo "$out" | awk -v n="$name" '{ for (i = 1; i < NF; i++) { if ($(i+1) == "MB/s") mb = $i;
    if ($(i+1) == "tokens/s") ts = $i; if ($(i+1) == "tokens") nt = $i } }
    END { printf "%s %s %s %s\n", n, mb, ts, nt }' >> "$WORK/results"
}

run "herd-llama3-bpe" "$WORK/tokenize_speed" "$L3" "$TEXT" "$REPS"
run "herd-llama2-spm" "$WORK/tokenize_speed" "$L2" "$TEXT" "$REPS"
sp_run() { # name [paras]
run "$1" $PY - "$L2" "$TEXT" "$REPS" ${2:-} <<'PYEOF'
import sys, time
import sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
data = open(sys.argv[2], "rb").read()
text = data.decode("utf-8")
paras = text.split("\n\n") if len(sys.argv) > 4 else [text]
best = 1e30
for r in range(int(sys.argv[3]) + 1):
    t0 = time.perf_counter()
    n = sum(len(sp.encode(p)) for p in paras)
    dt = time.perf_counter() - t0
    if r > 0:
        best = min(best, dt)
print("sentencepiece %.2f MB/s %.0f tokens/s %d tokens" % (len(data) / best / 1e6, n / best, n))
PYEOF
}
sp_run "sentencepiece-llama2"
# SentencePiece is much faster on many short inputs than on one long one:
# the same text cut at blank lines, one encode call per paragraph.
sp_run "sentencepiece-llama2-paras" paras
if command -v node >/dev/null && [ -d "$PEERS/node_modules/@anush008/tokenizers" ] && [ -f "$L3J" ]; then
  cat > "$WORK/hf.mjs" <<'JSEOF'
import { createRequire } from 'module';
import fs from 'fs';
const [peers, tokPath, textPath, reps] = process.argv.slice(2);
const { Tokenizer } = createRequire(peers + '/node_modules/')('@anush008/tokenizers');
const tok = Tokenizer.fromFile(tokPath);
const data = fs.readFileSync(textPath), text = data.toString('utf8');
let best = 1e30, n = 0;
for (let r = 0; r <= Number(reps); r++) {
  const t0 = process.hrtime.bigint();
  n = (await tok.encode(text, null, { addSpecialTokens: false })).getIds().length;
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r > 0) best = Math.min(best, dt);
}
console.log(`hf ${(data.length / best / 1e6).toFixed(2)} MB/s ${(n / best).toFixed(0)} tokens/s ${n} tokens`);
JSEOF
  run "hf-tokenizers-llama3" node "$WORK/hf.mjs" "$PEERS" "$L3J" "$TEXT" "$REPS"
fi

echo
printf "%-28s %10s %14s %10s\n" tokenizer "MB/s" "tokens/s" tokens
while read -r name mb ts nt; do
  printf "%-28s %10s %14s %10s\n" "$name" "$mb" "$ts" "$nt"
done < "$WORK/results"
awk '{ mb[$1] = $2 } END {
  printf "\nherd llama3 BPE / sentencepiece llama2: %.2fx (MB/s)\n", mb["herd-llama3-bpe"] / mb["sentencepiece-llama2"]
  printf "herd llama3 BPE / sentencepiece llama2, by paragraph: %.2fx (MB/s)\n", mb["herd-llama3-bpe"] / mb["sentencepiece-llama2-paras"]
  printf "herd llama2 SPM / sentencepiece llama2: %.2fx (MB/s)\n", mb["herd-llama2-spm"] / mb["sentencepiece-llama2"]
  if ("hf-tokenizers-llama3" in mb)
    printf "herd llama3 BPE / HF tokenizers llama3: %.2fx (MB/s)\n", mb["herd-llama3-bpe"] / mb["hf-tokenizers-llama3"]
}' "$WORK/results"
