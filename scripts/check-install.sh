#!/usr/bin/env bash
# Installs a build into a temporary prefix and builds examples/ against it with
# pkg-config, both statically and against the shared library; runs them.
# Usage: scripts/check-install.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name kadanoff.pc)")
test -x "$prefix/bin/kadanoff"
"$prefix/bin/kadanoff" --version
for ex in "$src"/examples/*.c; do
  name=$(basename "$ex" .c)
  cc -std=c11 "$ex" $(pkg-config --cflags kadanoff) -o "$prefix/$name" \
     -L"$prefix/lib" $(pkg-config --libs kadanoff) -Wl,-rpath,"$(pkg-config --variable=libdir kadanoff)"
  "$prefix/$name"
  cc -std=c11 "$ex" $(pkg-config --cflags kadanoff) -o "$prefix/$name-static" \
     $(pkg-config --static --libs kadanoff | sed 's/-lkadanoff/-l:libkadanoff.a/')
  "$prefix/$name-static"
done
echo "install check: ok"
