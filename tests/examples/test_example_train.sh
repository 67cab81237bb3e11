#!/usr/bin/env bash
# The training example (examples/train_tiny.c) builds and runs: a tiny model
# trained through the library API memorises a sentence: its loss falls
# below 0.05 and greedy decoding gives the sentence back byte for byte.
set -u
out=$("$HERD_BIN/example_train") ; rc=$?
echo "$out"
[ $rc = 0 ] || { echo "FAIL: example_train exited $rc (greedy text differs)"; exit 1; }
loss=$(echo "$out" | sed -n 's/^final loss //p')
awk -v l="$loss" 'BEGIN { exit !(l != "" && l < 0.05) }' || { echo "FAIL: final loss '$loss'"; exit 1; }
echo "ok: memorised with final loss $loss"
