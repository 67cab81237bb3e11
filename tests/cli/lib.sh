# Shared by the command-line tests (sourced, not run): $herd, a temporary
# folder $tmp removed at exit, and ok / bad / expect_error, which count a
# failure in $fail. Set ONE_LINE=1 before expect_error to also require a
# one-line message.
herd="$HERD_BIN/herd"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }

# expect_error DESCRIPTION PATTERN -- command...: exits 1 or 2 (not a
# signal), and stderr names the problem (progress lines aside).
expect_error() {
  local what="$1" pat="$2"; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -ne 1 ] && [ $rc -ne 2 ]; then bad "$what: exit $rc"; cat "$tmp/err"; return; fi
  if ! grep -qi -- "$pat" "$tmp/err"; then bad "$what: stderr lacks '$pat'"; cat "$tmp/err"; return; fi
  if [ "${ONE_LINE:-0}" = 1 ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
    bad "$what: more than one line"; cat "$tmp/err"; return
  fi
  ok "$what: $(grep -v 'tensor [0-9]' "$tmp/err" | head -c 200 | head -n 1)"
}
