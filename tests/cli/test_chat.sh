#!/usr/bin/env bash
# herd chat with the random-weight model the build makes (Llama 2 template;
# its noise never ends a reply early):
# three turns from stdin, each after the first processing only its new
# tokens (the -v stats line against counts made with herd tokenize); a
# tiny context dropping old turns; a message longer than the context;
# --help and a bad --chat-template; Ctrl-C stopping a reply, the chat
# going on, and end of input ending it with exit 0.
set -u
herd="$HERD_BIN/herd"
m="$HERD_BIN/models/herd-random.gguf"
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; exec 3>&- 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }

# field N STAT LINE: from "[turn: A new tokens processed, ...; reply: B
# tokens, ...; context C/D]" N=1 gives A, 2 gives B, 3 gives C.
field() {
  sed -n "${1}p" "$2" | sed -E 's/^\[turn: ([0-9]+) new tokens processed.*reply: ([0-9]+) tokens.*context ([0-9]+)\/[0-9]+\]$/\1 \2 \3/' \
    | cut -d' ' -f"$3"
}
# ntok TEXT: ids of the Llama 2 rendering of one user message,
# BOS "[INST] TEXT [/INST]", by the model's tokenizer.
ntok() { "$herd" tokenize -m "$m" --bos -p "[INST] $1 [/INST]" | wc -w; }

"$herd" chat --help >"$tmp/out" 2>&1 && grep -q "usage: herd chat" "$tmp/out" \
  && ok "chat --help" || bad "chat --help"
"$herd" chat -m "$m" --chat-template chatml </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && grep -q "unknown chat template 'chatml'" "$tmp/err" \
  && ok "bad --chat-template: $(cat "$tmp/err")" || { bad "bad --chat-template: exit $rc"; cat "$tmp/err"; }

# ---- three turns: only the new tokens go through the model ----
m1="Once upon a time there was a little girl who had a big dog and a cat, and one day they went to play with a ball in the sun. The dog ran after the ball and the cat sat under a tree."
m2="And then?"
m3="Thanks!"
printf '%s\n%s\n%s\n' "$m1" "$m2" "$m3" \
  | "$herd" chat -m "$m" --temp 0 -n 8 -v -t 2 >"$tmp/out" 2>"$tmp/err"; rc=$?
grep -a '^\[turn:' "$tmp/err" >"$tmp/stats"
if [ $rc != 0 ] || [ "$(wc -l <"$tmp/stats")" != 3 ] || [ "$(wc -l <"$tmp/out")" -lt 3 ]; then
  bad "three turns: exit $rc, $(wc -l <"$tmp/stats") replies"; cat "$tmp/err"
else
  ok "three turns, three replies"
  t1=$(ntok "$m1"); t2=$(ntok "$m2"); t3=$(ntok "$m3")
  n1=$(field 1 "$tmp/stats" 1); k1=$(field 1 "$tmp/stats" 2); p1=$(field 1 "$tmp/stats" 3)
  n2=$(field 2 "$tmp/stats" 1); k2=$(field 2 "$tmp/stats" 2); p2=$(field 2 "$tmp/stats" 3)
  n3=$(field 3 "$tmp/stats" 1); k3=$(field 3 "$tmp/stats" 2); p3=$(field 3 "$tmp/stats" 3)
  # The token that ended a reply was sampled but not evaluated: it goes in
  # first next turn, with </s> when the reply was cut at -n (8 tokens).
  pend() { [ "$1" = 8 ] && echo 2 || echo 1; }
  [ "$n1" = "$t1" ] && [ "$p1" = $((n1 + k1 - 1)) ] \
    && ok "turn 1: $n1 tokens (BOS [INST] ... [/INST]), context $p1" \
    || bad "turn 1: processed $n1, want $t1; context $p1, want $((n1 + k1 - 1))"
  [ "$n2" = $(($(pend "$k1") + t2)) ] && [ "$p2" = $((p1 + n2 + k2 - 1)) ] \
    && ok "turn 2: $n2 new tokens = $(pend "$k1") pending + $t2 of the message; context $p2" \
    || bad "turn 2: processed $n2, want $(($(pend "$k1") + t2)); context $p2, want $((p1 + n2 + k2 - 1))"
  [ "$n3" = $(($(pend "$k2") + t3)) ] && [ "$p3" = $((p2 + n3 + k3 - 1)) ] \
    && ok "turn 3: $n3 new tokens; context $p3" \
    || bad "turn 3: processed $n3, want $(($(pend "$k2") + t3)); context $p3, want $((p2 + n3 + k3 - 1))"
  [ $((3 * n2)) -lt "$p2" ] && ok "turn 2 processed $n2 of the conversation's $p2 tokens" \
    || bad "turn 2 processed $n2 of $p2 tokens"
fi

# ---- a tiny context: the oldest turns are dropped ----
printf 'hi\nyo\nok\nhm\n' | "$herd" chat -m "$m" --temp 0 -n 8 -v -t 2 -c 48 >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && [ "$(grep -ac '^\[turn:' "$tmp/err")" = 4 ] && grep -q "dropped the oldest turn" "$tmp/err" \
  && grep -a '^\[turn:' "$tmp/err" | sed -E 's/.*context ([0-9]+)\/48\]$/\1/' | awk '$1 > 48 { e = 1 } END { exit e }' \
  && ok "-c 48: four replies, the oldest turns dropped" || { bad "-c 48: exit $rc"; cat "$tmp/err"; }

# ---- a message longer than the context: an error, and the chat goes on ----
long=$(printf 'word %.0s' $(seq 1 60))
printf 'hi\n%s\nyo\n' "$long" | "$herd" chat -m "$m" --temp 0 -n 4 -v -t 2 -c 48 >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && grep -q "more than the context of 48" "$tmp/err" && [ "$(grep -ac '^\[turn:' "$tmp/err")" = 2 ] \
  && ok "message longer than the context: $(grep -a 'more than' "$tmp/err"), then a reply" \
  || { bad "message longer than the context: exit $rc"; cat "$tmp/err"; }

# ---- Ctrl-C stops a reply; the chat answers the next message ----
# wait_for SECONDS COMMAND...: polls until the command succeeds.
wait_for() {
  local end=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.05; done
}
stopped() { [ "$(grep -ao ' \[stopped\]' "$tmp/out" | wc -l)" -ge "$1" ]; }
nstats() { [ "$(grep -ac '^\[turn:' "$tmp/err")" -ge "$1" ]; }
grew() { [ "$(wc -c <"$tmp/out")" -gt "$1" ]; }
mkfifo "$tmp/in"
"$herd" chat -m "$m" -n 100000 --temp 1 --seed 7 -c 4096 -v -t 2 <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
pid=$!
exec 3>"$tmp/in"
echo "hello" >&3
if ! wait_for 10 grew 0; then
  bad "Ctrl-C: no reply started"; cat "$tmp/err"
else
  sleep 0.3
  kill -INT "$pid"
  if wait_for 10 stopped 1 && wait_for 5 nstats 1 && kill -0 "$pid" 2>/dev/null \
     && [ "$(tail -c 11 "$tmp/out")" = " [stopped]" ]; then
    ok "Ctrl-C: the reply ends with ' [stopped]', herd still runs"
  else
    bad "Ctrl-C: $(tail -c 40 "$tmp/out" | cat -v)"; cat "$tmp/err"
  fi
  size=$(wc -c <"$tmp/out")
  echo "again" >&3
  if wait_for 10 grew $((size + 4)); then
    sleep 0.2
    kill -INT "$pid"
    wait_for 10 stopped 2 && wait_for 5 nstats 2 && ok "the next message gets a reply, stopped again" \
      || bad "second reply after Ctrl-C"
    # Turn 2 after a stopped reply: only </s> pending, then the message.
    n=$(grep -a '^\[turn:' "$tmp/err" | sed -n 2p | sed -E 's/^\[turn: ([0-9]+) .*/\1/')
    [ "$n" = $((1 + $(ntok again))) ] && ok "after Ctrl-C: $n new tokens (</s> + the message)" \
      || bad "after Ctrl-C: $n new tokens, want $((1 + $(ntok again)))"
  else
    bad "no reply to the message after Ctrl-C"; cat "$tmp/err"
  fi
fi
exec 3>&-
if wait_for 10 eval '! kill -0 "$pid" 2>/dev/null'; then
  wait "$pid"; rc=$?
  [ $rc = 0 ] && ok "end of input: exit 0" || bad "end of input: exit $rc"
else
  bad "herd chat did not end at end of input"
fi
pid=
exit $fail
