#!/usr/bin/env bash
# Runs the benchmarks and writes bench/RESULTS.md. Usage: bench/run.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
out=$here/RESULTS.md
{
  echo "# kadanoff benchmark results"
  echo
  echo "Produced by \`make bench\` (bench/run.sh) on $(date -u +%Y-%m-%d), $(nproc) cores,"
  echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')."
  echo "Absolute numbers on a shared machine are noisy: compare the ratios, which are"
  echo "measured in the same process."
  echo
  echo "## Ising Monte Carlo, scalar kernels (\`$build/bench/bench_ising\`)"
  echo
  "$build/bench/bench_ising" "${KADANOFF_BENCH_MAX_L:-256}"
  echo
  echo "## Multi-spin Ising Monte Carlo, independent replicas (\`$build/bench/bench_multispin\`)"
  echo
  "$build/bench/bench_multispin" "${KADANOFF_BENCH_MULTISPIN_MAX_L:-1024}"
  echo
  echo "## RBM CD-1 training (\`$build/bench/bench_rbm\`)"
  echo
  "$build/bench/bench_rbm"
  echo
  echo "### Side by side with PyTorch and scikit-learn (\`bench/peers_rbm.py\`)"
  echo
  if [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 "$here/peers_rbm.py" "$build/bench/bench_rbm" "${KADANOFF_BENCH_PEER_ROUNDS:-3}"
  else
    echo "peers skipped: /usr/bin/python3 not found (Debian python3, python3-torch, python3-sklearn)"
  fi
  echo
  echo "## End to end (\`bench/end_to_end.sh\`)"
  echo
  bash "$here/end_to_end.sh" "$build"
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out"
