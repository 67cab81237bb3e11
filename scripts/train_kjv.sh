#!/bin/bash
# Trains herd's own model, models/herd-kjv.gguf, from nothing but Debian's
# King James Bible (the bible-kjv package) and herd itself:
#   1. the text: every chapter a document ("Genesis 1" and its verses, one
#      per line, verse numbers dropped), chapters apart by a blank line;
#   2. a 4096-piece BPE tokenizer learned from it (herd train-tokenizer);
#   3. token shards, 5% of the chapters held out for validation (herd prepare);
#   4. pretraining with models/herd-kjv.json (herd train);
#   5. the result as F16 GGUF with its tokenizer (herd convert).
# Usage: bash scripts/train_kjv.sh [WORK_DIR]   (default /tmp/herd-kjv)
# Takes about 25 minutes on 2 cores; --resume-safe: rerunning continues an
# interrupted run from its last checkpoint.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERD=${HERD:-$ROOT/build/herd}
WORK=${1:-/tmp/herd-kjv}
command -v bible >/dev/null || { echo "install the bible-kjv package (apt-get install bible-kjv)" >&2; exit 1; }
mkdir -p "$WORK"
cd "$WORK"
bible -l0 gen1:1-rev22:21 2>/dev/null | awk '
    /^[^ ].* [0-9]+$/ { if (n++) print ""; print; next }
    /^ *[0-9]+ / { sub(/^ *[0-9]+ /, ""); print }' > kjv.txt
"$HERD" train-tokenizer -i kjv.txt --vocab-size 4096 -o tokenizer.model -f
"$HERD" prepare -z tokenizer.model -i kjv.txt -o kjv --doc-sep blank --seed 1
resume=
[ -f run/checkpoint.bin ] && resume=--resume
"$HERD" train --config "$ROOT/models/herd-kjv.json" $resume
"$HERD" convert -m run/model.gguf -o "$ROOT/models/herd-kjv.gguf" --type f16 --force
echo "wrote $ROOT/models/herd-kjv.gguf"
