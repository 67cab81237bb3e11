#!/usr/bin/env bash
# Installs what herd needs from Debian's packages (as root), then builds it.
#   scripts/setup.sh [--test] [--sanitize] [BUILD_DIR]
# --test also installs what the tests use as references (python3-sentencepiece,
# python3-numpy, bible-kjv for the text herd's own model was trained on, the
# OpenAI client from npm via scripts/setup-openai-client.sh, and llama.cpp's
# prebuilt CPU build from npm via ../shared/bench/setup-llamacpp.sh);
# --sanitize builds with AddressSanitizer and UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0 sanitize=OFF build=build
for a in "$@"; do
  case "$a" in
    --test) want_test=1 ;;
    --sanitize) sanitize=ON ;;
    *) build="$a" ;;
  esac
done

pkgs="build-essential cmake pkg-config libopenblas-dev libopenblas0-openmp libcjson-dev libpcre2-dev libmicrohttpd-dev"
[ "$want_test" = 1 ] && pkgs="$pkgs python3 python3-numpy python3-sentencepiece bible-kjv curl git"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing$missing"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

# The official OpenAI client for tests/cli/test_serve_openai.sh (skipped
# without it), from npm into ~/.cache/herd-peers/openai-client.
if [ "$want_test" = 1 ] && ! bash scripts/setup-openai-client.sh; then
  echo "setup: note: the npm package openai did not install; test_serve_openai.sh will skip"
fi

# llama.cpp for the tests that compare with it (tests/infer/test_greedy_llamacpp.sh,
# tests/formats/test_adapter_llamacpp.sh; skipped without it), where bench/
# keeps it too: ~/.cache/herd-bench/llamacpp.
shared=${HERD_SHARED:-../shared}
if [ "$want_test" = 1 ] && [ -f "$shared/bench/setup-llamacpp.sh" ] &&
   ! bash "$shared/bench/setup-llamacpp.sh" "$HOME/.cache/herd-bench/llamacpp" >/dev/null; then
  echo "setup: note: llama.cpp did not install; the tests that compare with it will skip"
fi

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DHERD_SANITIZE="$sanitize" >/dev/null
cmake --build "$build" -j "$(nproc)"
