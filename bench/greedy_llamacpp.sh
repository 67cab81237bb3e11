#!/usr/bin/env bash
# Same file, same greedy decoding: herd's token ids against llama.cpp's
# (flash attention off, f32 KV cache) from BOS, N tokens.
#   bench/greedy_llamacpp.sh [N=200]
# Models: stories260K (../shared/models, a real trained checkpoint) turned
# into GGUF by herd convert, with a synthetic 512-piece llama2.c tokenizer
# (the real one is not available; greedy ids from BOS do not depend on the
# pieces), and the random TinyLlama-shape models bench/llamacpp.sh writes
# (f32, and q8_0 / q4_0 where ids may part where two logits are close: the
# script prints where they first differ).
# Env: BENCH_DIR=~/.cache/herd-bench THREADS=2 TYPES="f32 q8_0 q4_0"
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${HERD_SHARED:-$here/../shared}
herd=${HERD_BIN:-$here/build}/herd
dir=${BENCH_DIR:-$HOME/.cache/herd-bench}
n=${1:-200} t=${THREADS:-2} types=${TYPES:-"f32 q8_0 q4_0"}
mkdir -p "$dir"
peer=$(bash "$shared/bench/setup-llamacpp.sh" "$dir/llamacpp" | tail -1)

/usr/bin/python3 - "$dir/tok512.bin" <<'EOF'
import struct, sys
pieces = ["<unk>", "\n<s>\n", "\n</s>\n"] + ["<0x%02X>" % b for b in range(256)]
pieces += [" w%d" % i for i in range(512 - len(pieces))]
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<i", max(len(p.encode()) for p in pieces)))
    for i, p in enumerate(pieces):
        b = p.encode()
        f.write(struct.pack("<fi", -float(i), len(b)) + b)
EOF

compare() { # name model
  local h l
  h=$("$herd" run -m "$2" --temp 0 -n "$n" --ids -t "$t" 2>/dev/null)
  l=$("$peer" -m "$2" -gen "$n" -fa off -kv f32 -t "$t" 2>/dev/null | sed -n 's/^ids=//p')
  if [ "$h" = "$l" ]; then
    echo "$1: the same $n greedy ids"
  else
    local i=1
    while [ "$(echo "$h" | cut -d' ' -f$i)" = "$(echo "$l" | cut -d' ' -f$i)" ]; do i=$((i + 1)); done
    echo "$1: ids equal up to token $((i - 1)) of $n, then herd $(echo "$h" | cut -d' ' -f$i), llama.cpp $(echo "$l" | cut -d' ' -f$i)"
  fi
}

s="$dir/stories260K-f32.gguf"
"$herd" convert -m "$shared/models/stories260K.bin" -z "$dir/tok512.bin" -o "$s" --force -q
compare "stories260K f32" "$s"
for ty in $types; do
  m="$dir/tinyllama-$ty.gguf"
  [ -f "$m" ] && compare "tinyllama $ty" "$m" || echo "tinyllama $ty: $m missing (bench/llamacpp.sh writes it)"
done
