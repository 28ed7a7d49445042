#!/usr/bin/env bash
# setup.sh: install spanlab's Debian packages (when missing), configure and build.
#
#   scripts/setup.sh [release|debug|asan|fuzz|all]   (default: release)
#   scripts/setup.sh test-deps    what only the tests need: Debian's chromium (the report's
#                                 browser test); scripts/test.sh runs it, `make run` does not
#
# Idempotent and quiet when everything is already there. Runs as root with no
# prompt; as another user it uses sudo for apt-get. Every build also installs the
# report's web assets (uPlot, playwright-core) with `npm ci` in src/report/web:
# the build inlines uPlot into the binary, so `spanlab report` needs no node.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

packages=(
  build-essential cmake pkg-config git ca-certificates
  clang libclang-rt-14-dev clang-tidy
  libzstd-dev zstd libroaring-dev libxxhash-dev libjansson-dev
  libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
  libcmocka-dev libsqlite3-dev sqlite3 librocksdb-dev
  libcurl4-openssl-dev libmicrohttpd-dev
)

# Node.js and npm install the report's web assets at build time; Debian's packages
# serve when the machine has none of its own.
command -v npm >/dev/null || packages+=(nodejs npm)

install_missing() { # package...
  local missing=() p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  ((${#missing[@]})) || return 0
  echo "setup: installing Debian packages: ${missing[*]}"
  local sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: not root and no sudo: install ${missing[*]} by hand" >&2; exit 1; }
    sudo_cmd=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# src/report/web/node_modules from package-lock.json, again only when the lock changed.
web_assets() {
  local web=src/report/web
  if [[ ! -f $web/node_modules/.package-lock.json || $web/package-lock.json -nt $web/node_modules/.package-lock.json ]]; then
    echo "setup: npm ci in $web (uPlot, playwright-core)"
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || {
      echo "setup: npm ci failed in $web" >&2
      exit 1
    }
  fi
}

if [[ ${1:-release} == test-deps ]]; then
  # The browser test drives Debian's chromium through playwright-core; no browser download.
  test_packages=(chromium fonts-liberation)
  command -v npm >/dev/null || test_packages+=(nodejs npm)
  install_missing "${test_packages[@]}"
  web_assets
  exit 0
fi

install_missing "${packages[@]}"
web_assets

jobs=$(nproc 2>/dev/null || echo 2)

configure_and_build() { # dir build-type extra-cmake-args...
  local dir=$1 type=$2
  shift 2
  if [[ ! -f "$dir/CMakeCache.txt" ]]; then
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null
  fi
  mkdir -p "$dir"
  if ! cmake --build "$dir" -j "$jobs" >"$dir/build.log" 2>&1; then
    grep -vE '^\[ *[0-9]+%\]|^(Consolidate|Scanning|Built target)|Entering|Leaving' "$dir/build.log" >&2
    echo "setup: the $type build in $dir failed (full log: $dir/build.log)" >&2
    exit 1
  fi
}

what=${1:-release}
case "$what" in
  release) configure_and_build build/release Release ;;
  debug) configure_and_build build/debug Debug ;;
  asan) configure_and_build build/asan Asan ;;
  fuzz) CC=clang configure_and_build build/fuzz Debug -DSPANLAB_FUZZ=ON -DSPANLAB_TESTS=OFF -DCMAKE_C_COMPILER=clang ;;
  all)
    configure_and_build build/release Release
    configure_and_build build/asan Asan
    CC=clang configure_and_build build/fuzz Debug -DSPANLAB_FUZZ=ON -DSPANLAB_TESTS=OFF -DCMAKE_C_COMPILER=clang
    ;;
  *) echo "setup: unknown build '$what' (release, debug, asan, fuzz, all, test-deps)" >&2; exit 2 ;;
esac
