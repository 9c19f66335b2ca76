#!/usr/bin/env bash
# CLI checks for `kadanoff sample`, `exact` and the top level: exit codes
# (0 / 1 failure / 2 usage), one clear message, no partial output files, and
# byte-identical spins for --threads 1 and 2.
set -u
K=${1:?usage: cli_sample.sh path/to/kadanoff}
. "$(dirname "$0")/lib_cli.sh"

check "top-level help" 0 "Commands:" -- "$K" --help
check "version" 0 "^kadanoff [0-9]" -- "$K" --version
check "no command" 2 "Usage" -- "$K"
check "unknown command" 2 "unknown command" -- "$K" frobnicate
check "sample help" 0 "--temps LIST" -- "$K" sample --help
check "negative L" 2 "-L must be between" -- "$K" sample -L -4 --temps 1 -o "$T/a.h5"
check "L = 1" 2 "-L must be between 2" -- "$K" sample -L 1 --temps 1 -o "$T/a.h5"
check "empty temps" 2 "temperature list is empty" -- "$K" sample --temps "" -o "$T/a.h5"
check "bad temps" 2 "not a number" -- "$K" sample --temps 1,x -o "$T/a.h5"
check "negative temp" 2 "negative" -- "$K" sample --temps=-1 -o "$T/a.h5"
check "missing temps" 2 "--temps is required" -- "$K" sample -o "$T/a.h5"
check "missing output" 2 "--output is required" -- "$K" sample --temps 1
check "unknown algorithm" 2 "unknown algorithm 'swendsen'" -- "$K" sample --temps 1 --algorithm swendsen -o "$T/a.h5"
check "unknown option" 2 "unknown option '--frob'" -- "$K" sample --frob
check "missing value" 2 "needs a value" -- "$K" sample --temps
check "wolff with field" 2 "wolff needs --field 0" -- "$K" sample --temps 1 --field 0.5 --algorithm wolff -o "$T/a.h5"
check "bad threads" 2 "--threads must be between" -- "$K" sample --temps 1 --threads 0 -o "$T/a.h5"
check "bad samples" 2 "--samples expects an integer" -- "$K" sample --temps 1 -n 1e3 -o "$T/a.h5"
check "unwritable output" 1 "cannot write '$T/nodir/a.h5'" -- "$K" sample -L 4 --temps 1 -n 5 -o "$T/nodir/a.h5"
nofile "nothing left after failures" "$T"/a.h5 "$T"/a.h5.*

check "sample runs" 0 "wrote 40 configurations" -- "$K" sample -L 6 --temps 1,inf -n 20 --seed 3 --threads 1 -o "$T/t1.h5"
check "sample 2 threads" 0 "wrote 40" -- "$K" sample -L 6 --temps 1,inf -n 20 --seed 3 --threads 2 -o "$T/t2.h5"
nofile "no temp files left" "$T"/*.tmp* "$T"/*.probe*
if "$K" export "$T/t1.h5" --npy "$T/n1" >/dev/null 2>&1 && "$K" export "$T/t2.h5" --npy "$T/n2" >/dev/null 2>&1; then
  if cmp -s "$T/n1/spins.npy" "$T/n2/spins.npy"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: --threads 1 and 2 spins differ"; fi
else
  fail=$((fail+1)); echo "FAIL: export of the sampled files"
fi

# the default algorithm: multispin for many chains of a small periodic square
# lattice (kd_sample_default_algorithm), wolff otherwise, metropolis with a field
algo_of() { "$K" info "$1" 2>/dev/null | grep -o "algorithm[^,;]*" | head -1; }
# default_algo NAME WANT SAMPLE-ARGS...: the run succeeds and records algorithm WANT
default_algo() {
  local name=$1 want=$2; shift 2
  rm -f "$T/auto.h5"
  if "$K" sample "$@" --temps 2.5 --seed 3 -q -o "$T/auto.h5" && algo_of "$T/auto.h5" | grep -q "$want"
  then ok; else bad "$name: want $want, got '$(algo_of "$T/auto.h5")'"; fi
}
default_algo "256 chains, L = 8" multispin -L 8 -n 256 --chains 256
default_algo "255 chains" wolff -L 8 -n 255 --chains 255
default_algo "open boundary, 256 chains" wolff -L 8 --boundary open -n 256 --chains 256
default_algo "--algorithm kept" metropolis -L 8 -n 256 --chains 256 --algorithm metropolis
default_algo "field, 256 chains" metropolis -L 8 --field 0.2 -n 256 --chains 256
default_algo "--algorithm multispin-heatbath kept" multispin-heatbath -L 8 -n 256 --chains 256 --algorithm multispin-heatbath

# multispin-heatbath: same spins on 1 and 2 threads; the lattice restrictions
MH=(sample -L 8 --temps 2.3,3 -n 256 --chains 128 --algorithm multispin-heatbath --seed 4 -q)
if "$K" "${MH[@]}" --threads 1 -o "$T/h1.h5" && "$K" "${MH[@]}" --threads 2 -o "$T/h2.h5" &&
   "$K" export "$T/h1.h5" --npy "$T/hn1" >/dev/null 2>&1 && "$K" export "$T/h2.h5" --npy "$T/hn2" >/dev/null 2>&1 &&
   cmp -s "$T/hn1/spins.npy" "$T/hn2/spins.npy"
then ok; else bad "multispin-heatbath: --threads 1 and 2 spins differ"; fi
check "multispin-heatbath odd L" 1 "even L" -- "$K" sample -L 7 --temps 2 -n 10 --algorithm multispin-heatbath -o "$T/a.h5"

# multispin has one burn-in for all replicas: one warning per temperature, not one
# per chain (L = 48 at T_c does not settle within the minimum --max-burn-in)
"$K" sample -L 48 --temps 2.269 -n 256 --chains 256 --max-burn-in 1000 --seed 2 -o "$T/w.h5" 2>"$T/err" >/dev/null
nw=$(grep -c "not demonstrably stationary" "$T/err")
[ "$nw" = 1 ] && ok || bad "multispin burn-in warnings: $nw, want 1"

check "metropolis on the 2x2 torus warns" 0 "not ergodic on the 2x2 torus" -- "$K" sample -L 2 --temps 4 -n 20 --algorithm metropolis -o "$T/l2.h5"

# an existing file survives a failed run that targets it
cp "$T/t1.h5" "$T/keep.h5"
check "failing run keeps old file" 2 "unknown algorithm" -- "$K" sample --temps 1 --algorithm x -o "$T/keep.h5"
if cmp -s "$T/t1.h5" "$T/keep.h5"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: old file changed"; fi

# interrupted run: SIGINT mid-sampling writes nothing and keeps the old file
"$K" sample -L 64 --temps 2.2:2.4:0.01 -n 100000 --algorithm metropolis -o "$T/keep.h5" -q 2>"$T/err" &
pid=$!; sleep 1; kill -INT $pid; wait $pid; st=$?
if [ $st = 130 ] && grep -q interrupted "$T/err" && cmp -s "$T/t1.h5" "$T/keep.h5"; then pass=$((pass+1))
else fail=$((fail+1)); echo "FAIL: SIGINT: status $st"; cat "$T/err"; fi
nofile "no temp files after SIGINT" "$T"/keep.h5.*

check "exact help" 0 "Usage" -- "$K" exact --help
check "exact table" 0 "-1.745431" -- "$K" exact -L 10 --temps 2.0

lib_cli_done
