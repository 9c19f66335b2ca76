#!/usr/bin/env bash
# Installs the Debian packages kadanoff needs to build, test and draw figures.
# Idempotent: asks dpkg what is missing and installs only that, saying what.
# Uses sudo when not root. Set KADANOFF_NO_INSTALL=1 to only report.
# Options add the tools of the extra checks: --fuzz (clang, libFuzzer and the
# OpenMP runtime for clang: make fuzz), --valgrind (make valgrind), --mpi (Open
# MPI for the optional MPI build -DKADANOFF_MPI=ON, docs/cluster.md; also
# KADANOFF_WITH_MPI=1). The default build needs none of them.
set -euo pipefail

# build + library dependencies (required)
required=(build-essential cmake pkg-config libhdf5-dev librandom123-dev
          libopenblas-dev liblapacke-dev)
# figures, NumPy round-trip tests, sanitizer runtime (optional but used by tests/CI)
optional=(gnuplot-nox python3-numpy python3-h5py)
for opt in "$@"; do
  case $opt in
    --fuzz) optional+=(clang libclang-rt-14-dev libomp-14-dev) ;;
    --valgrind) optional+=(valgrind) ;;
    --mpi) optional+=(libopenmpi-dev openmpi-bin) ;;
    *) echo "install-deps: unknown option '$opt' (expected --fuzz, --valgrind or --mpi)" >&2; exit 2 ;;
  esac
done
if [ "${KADANOFF_WITH_MPI:-0}" = 1 ]; then
  optional+=(libopenmpi-dev openmpi-bin)
fi

missing=()
for p in "${required[@]}" "${optional[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing Debian packages: ${missing[*]}" >&2
if [ "${KADANOFF_NO_INSTALL:-0}" = 1 ]; then
  echo "install-deps: KADANOFF_NO_INSTALL=1, not installing; install them yourself" >&2
  exit 1
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
