#!/bin/bash
# The committed golden data (tests/fixtures/bpe_llama3*.txt) is what Hugging
# Face tokenizers gives today: rerun tests/reference/bpe_golden.mjs into a
# temp folder and compare. Exit 77 (skipped) without node, the npm package
# @anush008/tokenizers ($HERD_PEERS or /root/.cache/herd-peers/hf-tokenizers)
# or the shared tokenizer.json.
set -u
SOURCE=${HERD_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
SHARED=${HERD_SHARED:-$SOURCE/../shared}
PEERS=${HERD_PEERS:-/root/.cache/herd-peers/hf-tokenizers}
JSON=$SHARED/tokenizers/llama3/tokenizer.json
if ! command -v node >/dev/null; then
  echo "SKIP: node is not installed"; exit 77
fi
if [ ! -d "$PEERS/node_modules/@anush008/tokenizers" ]; then
  echo "SKIP: no @anush008/tokenizers under $PEERS (npm install @anush008/tokenizers there)"; exit 77
fi
if [ ! -f "$JSON" ]; then
  echo "SKIP: $JSON is absent (set HERD_SHARED)"; exit 77
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
node "$SOURCE/tests/reference/bpe_golden.mjs" --tokenizer "$JSON" --out-dir "$OUT" --peers "$PEERS" || exit 1
status=0
for f in bpe_llama3.txt bpe_llama3_special.txt; do
  if diff <(grep -v '^#' "$SOURCE/tests/fixtures/$f") <(grep -v '^#' "$OUT/$f") > "$OUT/diff"; then
    echo "$f: $(grep -vc '^#' "$OUT/$f") lines match Hugging Face tokenizers"
  else
    echo "$f differs from Hugging Face tokenizers (< fixture, > fresh):"
    head -20 "$OUT/diff"
    status=1
  fi
done
exit $status
