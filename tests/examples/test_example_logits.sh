#!/usr/bin/env bash
# The library example (examples/logits.c) builds and runs: on the shipped
# model its cached and uncached logits agree, and on stories260K its most
# likely token after BOS is the first id llama2.c's run.c generates greedily.
set -u
ex="$HERD_BIN/example_logits"
fail=0
out=$("$ex" "$HERD_BIN/models/herd-random.gguf") || { echo "FAIL: example_logits exited $?"; exit 1; }
echo "$out"
diff=$(echo "$out" | sed -n 's/.*max difference \([^ ]*\).*/\1/p')
awk -v d="$diff" 'BEGIN { exit !(d != "" && d < 1e-4) }' || { echo "FAIL: cached vs uncached differ by '$diff'"; fail=1; }
model="$HERD_SHARED/models/stories260K.bin"
if [ -f "$model" ]; then
  out=$("$ex" "$model") || { echo "FAIL: example_logits on stories260K exited $?"; exit 1; }
  echo "$out"
  top=$(echo "$out" | sed -n 2p | awk '{print $1}')
  want=$(awk '{print $1}' "$HERD_SHARED/models/stories260K.greedy-ids.txt")
  [ "$top" = "$want" ] || { echo "FAIL: top token $top, llama2.c generates $want first"; fail=1; }
else
  echo "note: $model absent; only the shipped model was checked"
fi
"$ex" /nonexistent.gguf 2>/dev/null && { echo "FAIL: a missing model did not fail"; fail=1; }
exit $fail
