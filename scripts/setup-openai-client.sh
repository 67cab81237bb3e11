#!/usr/bin/env bash
# Installs the official OpenAI client (npm package `openai`) outside the
# repository, where tests/cli/test_serve_openai.sh looks for it:
#   scripts/setup-openai-client.sh [DIR]
# DIR defaults to $HERD_OPENAI_PEER or ~/.cache/herd-peers/openai-client.
# Installs node and npm from Debian's packages first when they are missing.
set -euo pipefail
dir=${1:-${HERD_OPENAI_PEER:-$HOME/.cache/herd-peers/openai-client}}
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup-openai-client: installing nodejs npm"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
if [ -f "$dir/node_modules/openai/package.json" ]; then
  echo "setup-openai-client: openai is already in $dir"; exit 0
fi
mkdir -p "$dir"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error openai >/dev/null
echo "setup-openai-client: installed openai $(node -p "require('$dir/node_modules/openai/package.json').version") in $dir"
