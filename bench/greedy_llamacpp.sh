#!/usr/bin/env bash
# Same file, same greedy decoding: herd against llama.cpp (flash attention
# off, f32 KV cache) from BOS, N tokens. Issue 4's criterion: the same N
# tokens in F32; in Q8_0 / Q4_0 the same tokens wherever llama.cpp's top two
# logits are more than GAP (1e-2) apart.
#   bench/greedy_llamacpp.sh [N=200]
# Per model and type it prints two lines:
#   free-running: herd run --temp 0 --ids against llama.cpp's greedy ids, and
#     where they first part;
#   teacher-forced: llama.cpp's greedy ids and, at each step, the gap between
#     its two largest logits (bench/peer/llamacpp_margins.c); herd's argmax
#     at every position after the same prefix (BOS + llama.cpp's ids so far,
#     bench/peer/herd_argmax.c, one token at a time through the KV cache as
#     herd decodes; TF=batch: one herd_eval of the whole sequence). Counted:
#     steps, steps where llama.cpp's gap > GAP, how many of those herd's argmax
#     equals, and equal steps overall. Exit status 1 when any step with a gap
#     > GAP differs (the criterion fails), or when the F32 free-running ids
#     differ;
#   then the same teacher-forced count for llama.cpp's own other CPU backends
#     (PEER_VARIANTS, default zen4: its AVX-512 backend without AMX, which it
#     picks on AMD Zen 4 and 5; x64 is its plain C one, slow), each loaded
#     alone, against the backend llama.cpp picks here: how far two builds of
#     llama.cpp part on the same criterion (informational; it does not
#     change the exit status).
# Models: stories260K (../shared/models, a real trained checkpoint) turned
# into GGUF by herd convert (and, for Q8_0 / Q4_0, herd quantize), with a synthetic 512-piece llama2.c tokenizer
# (the real one is not available; greedy ids from BOS do not depend on the
# pieces), and the random TinyLlama-shape models bench/llamacpp.sh writes.
# Both peer programs are compiled here into the bench cache (llama.cpp's
# prebuilt libraries from shared/bench/setup-llamacpp.sh; herd's libherd.a).
# OPS=K (informational): also feed herd's decoding kernels llama.cpp's own
# tensors of step K (dumped by llamacpp_margins -tensors) one operation at a
# time (bench/peer/herd_ops.c); prints the operations whose floats differ
# in some layer, or that none does.
# Env: BENCH_DIR=~/.cache/herd-bench THREADS=2 TYPES="f32 q8_0 q4_0"
#      MODELS="stories260K tinyllama" GAP=1e-2 TF=step|batch
#      HERD_BIN=build (folder of herd and libherd.a)
#      PEER_DIR=$BENCH_DIR/llamacpp (llama.cpp, installed there when missing)
#      PEER_VARIANTS="zen4 x64" (default zen4; empty: none) OPS=K
# tests/infer/test_greedy_llamacpp.sh runs it on stories260K.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${HERD_SHARED:-$here/../shared}
herd=${HERD_BIN:-$here/build}/herd
dir=${BENCH_DIR:-$HOME/.cache/herd-bench}
n=${1:-200} t=${THREADS:-2} types=${TYPES:-"f32 q8_0 q4_0"}
models=${MODELS:-"stories260K tinyllama"} ldir=${PEER_DIR:-$dir/llamacpp}
mkdir -p "$dir"
[ -x "$ldir/bin/llamacpp_bench" ] || bash "$shared/bench/setup-llamacpp.sh" "$ldir" >/dev/null
gap=${GAP:-1e-2} tf=${TF:-step} variants=${PEER_VARIANTS-zen4} ops=${OPS:-}

# llama.cpp's side, built as setup-llamacpp.sh builds llamacpp_bench.c.
bins="$ldir/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"
src="$ldir/llama.cpp-src"
libllama=$(cd "$bins" && ls libllama.v*.so | head -1)
libggml=$(cd "$bins" && ls libggml.v*.so | head -1)
margins="$dir/llamacpp_margins"
gcc -O2 -std=c11 -D_DEFAULT_SOURCE -I"$src/include" -I"$src/ggml/include" "$here/bench/peer/llamacpp_margins.c" \
    -L"$bins" -l:"$libllama" -l:"$libggml" -l:libggml-base.so -Wl,-rpath,"$bins" -o "$margins"
export PEER_LLAMACPP_BINS="$bins"

# herd's side, against this build's libherd.a (rebuilt every run: it follows
# the library).
blas=/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0
if [ -f "$blas" ]; then blas="$blas -Wl,-rpath,$(dirname "$blas")"; else blas=$(pkg-config --libs openblas); fi
argmax="$dir/herd_argmax"
# shellcheck disable=SC2086
gcc -O2 -std=c11 -D_GNU_SOURCE -I"$here/include" "$here/bench/peer/herd_argmax.c" "$(dirname "$herd")/libherd.a" \
    -fopenmp $blas $(pkg-config --libs libcjson libpcre2-8 libmicrohttpd) -lm -o "$argmax"
if [ -n "$ops" ]; then
  # shellcheck disable=SC2086
  gcc -O2 -std=c11 -D_GNU_SOURCE -I"$here/include" -I"$here/src" "$here/bench/peer/herd_ops.c" \
      "$(dirname "$herd")/libherd.a" -fopenmp $blas $(pkg-config --libs libcjson libpcre2-8 libmicrohttpd) \
      -lm -o "$dir/herd_ops"
fi

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

# criterion NAME MODE WHO LLAMA_OUT OTHER_OUT: the counts and PASS/FAIL line;
# OTHER_OUT has "STEP ARGMAX ..." lines (lines that are not are skipped).
criterion() {
  awk -v gap="$gap" -v name="$1" -v tf="$2" -v who="$3" '
      BEGIN { n = 0 }
      FNR == NR { if (FNR > 1) { lid[n] = $2; lgap[n] = $3; n++ }; next }
      $1 ~ /^[0-9]+$/ { hid[$1] = $2 }
      END {
        for (i = 0; i < n; i++) {
          same += hid[i] == lid[i]
          if (lgap[i] + 0 > gap + 0) {
            big++; bigsame += hid[i] == lid[i]
            if (hid[i] != lid[i]) miss = miss (miss == "" ? "" : ",") i
          }
          else if (hid[i] != lid[i]) tie = tie (tie == "" ? "" : ",") i
        }
        ok = bigsame == big && n > 0
        printf("%s: teacher-forced (%s): %d steps, %d with llama.cpp gap > %s, %s argmax equal on %d of them; equal on %d of %d overall%s -> %s\n",
               name, tf, n, big, gap, who, bigsame, same, n, tie == "" ? "" : " (differs at near-ties: steps " tie ")",
               ok ? "PASS" : "FAIL (steps " miss ")")
        exit !ok
      }' "$4" "$5"
}

# A folder of links to llama.cpp's libraries with one CPU backend, VARIANT.
variant_bins() {
  local d="$dir/bins-$1" f
  rm -rf "$d" && mkdir -p "$d"
  for f in "$bins"/*; do
    case "$(basename "$f")" in libggml-cpu-*) ;; *) ln -s "$f" "$d/" ;; esac
  done
  ln -s "$bins/libggml-cpu-$1.so" "$d/"
  echo "$d"
}

fail=0
compare() { # name model type
  local tmp h l i
  tmp=$(mktemp -d)
  "$margins" -m "$2" -n "$n" -t "$t" -fa off -kv f32 > "$tmp/l" 2>"$tmp/lerr" || { cat "$tmp/lerr" >&2; echo "$1: llama.cpp failed"; fail=1; rm -rf "$tmp"; return; }
  # Free running.
  h=$("$herd" run -m "$2" --temp 0 -n "$n" --ids -t "$t" 2>/dev/null)
  l=$(awk 'NR > 1 { printf "%s%s", (NR > 2 ? " " : ""), $2 }' "$tmp/l")
  if [ "$h" = "$l" ]; then
    echo "$1: free-running: the same $n greedy ids"
  else
    i=1
    while [ "$(echo "$h" | cut -d' ' -f$i)" = "$(echo "$l" | cut -d' ' -f$i)" ]; do i=$((i + 1)); done
    echo "$1: free-running: ids equal up to token $((i - 1)) of $n, then herd $(echo "$h" | cut -d' ' -f$i), llama.cpp $(echo "$l" | cut -d' ' -f$i)"
    [ "$3" = f32 ] && fail=1
  fi
  # Teacher forced: BOS and llama.cpp's ids but the last.
  { sed -n 's/^bos=//p' "$tmp/l"; awk -v n="$n" 'NR > 1 && NR <= n { print $2 }' "$tmp/l"; } |
    "$argmax" -m "$2" -t "$t" $([ "$tf" = batch ] && echo --batch) > "$tmp/h" 2>"$tmp/herr" ||
    { cat "$tmp/herr" >&2; echo "$1: herd_argmax failed"; fail=1; rm -rf "$tmp"; return; }
  criterion "$1" "$tf" herd "$tmp/l" "$tmp/h" || fail=1
  # llama.cpp against itself: its other CPU backends, teacher-forced alike.
  for v in $variants; do
    PEER_LLAMACPP_BINS=$(variant_bins "$v") "$margins" -m "$2" -n "$n" -t "$t" -fa off -kv f32 \
      -ids <({ sed -n 's/^bos=//p' "$tmp/l"; awk -v n="$n" 'NR > 1 && NR < n + 1 { print $2 }' "$tmp/l"; }) \
      > "$tmp/v" 2>/dev/null || { echo "$1: llama.cpp ($v) failed"; continue; }
    criterion "$1" step "llama.cpp's $v backend" "$tmp/l" "$tmp/v" || true
  done
  if [ -n "$ops" ]; then
    for ((k = 0; k <= ops; k++)); do
      mkdir -p "$tmp/t$k"
      "$margins" -m "$2" -n $((ops + 1)) -t "$t" -fa off -kv f32 -tensors "$tmp/t$k" -tensor-step "$k" \
        >/dev/null 2>&1 || echo "$1: llama.cpp's tensor dump failed"
    done
    "$dir/herd_ops" "$2" "$tmp/t" "$ops" > "$tmp/ops" 2>&1 || true
    sed "s/^/$1: step $ops: /" "$tmp/ops"
  fi
  rm -rf "$tmp"
}

for model in $models; do
  case "$model" in
    stories260K)
      s="$dir/stories260K-f32.gguf"
      "$herd" convert -m "$shared/models/stories260K.bin" -z "$dir/tok512.bin" -o "$s" --force -q
      compare "stories260K f32" "$s" f32
      for ty in $types; do
        [ "$ty" = f32 ] && continue
        "$herd" quantize --force "$s" "$dir/stories260K-$ty.gguf" "$(echo "$ty" | tr a-z A-Z)" >/dev/null 2>&1
        compare "stories260K $ty" "$dir/stories260K-$ty.gguf" "$ty"
      done ;;
    tinyllama)
      for ty in $types; do
        m="$dir/tinyllama-$ty.gguf"
        if [ -f "$m" ]; then compare "tinyllama $ty" "$m" "$ty"; else echo "tinyllama $ty: $m missing (bench/llamacpp.sh writes it)"; fail=1; fi
      done ;;
    *) echo "unknown model $model"; fail=1 ;;
  esac
done
exit $fail
