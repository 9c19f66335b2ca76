#!/usr/bin/env bash
# CLI checks for `kadanoff decimate` and `kadanoff blockspin`: end-to-end runs,
# exit codes (0 / 1 failure / 2 usage), one clear message, no partial output,
# provenance in the coarse file, and seed/thread reproducibility.
set -u
K=${1:?usage: cli_rg.sh path/to/kadanoff}
. "$(dirname "$0")/lib_cli.sh"

# ---- decimate ----
check "decimate help" 0 "--chain-size 2M" -- "$K" decimate --help
# PHYSICS.md: K^(1) = 0.6625013737 ... K^(4) = 0.0128115420 from K = 1
check "decimate K=1" 0 "0\.662501373679" -- "$K" decimate --K 1.0 --steps 5
grep -q "0\.012811542036" "$T/out" && grep -q "exact-mapping check" "$T/out" \
  && grep -q "widths 64-32-16-8-4-2" "$T/out"
expect "decimate table: K^(4), mapping check, deep network" test $? = 0
check "decimate -o" 0 "wrote 5 rows" -- "$K" decimate --K 0.5 --steps 5 --chain-size 12 -o "$T/dec.tsv"
expect "tsv has a header and 5 rows" test "$(grep -vc '^#' "$T/dec.tsv")" = 6
# the traced coupling equals the formula: column 5 (|diff|) below 1e-12 on every row
expect "tsv |K - formula| < 1e-12" awk -F'\t' 'NR>3 { if ($5+0 > 1e-12) bad=1 } END { exit bad }' "$T/dec.tsv"
"$K" decimate -q --steps 2 >"$T/out" 2>&1
expect "decimate -q: status 0, prints nothing" test $? = 0 -a ! -s "$T/out"
check "K = 0" 2 "--K must be positive" -- "$K" decimate --K 0
check "K < 0" 2 "--K must be between" -- "$K" decimate --K=-1
check "K nan" 2 "--K expects a number" -- "$K" decimate --K nan
check "K inf" 2 "--K must be between" -- "$K" decimate --K inf
check "K text" 2 "--K expects a number" -- "$K" decimate --K one
check "odd chain" 2 "--chain-size must be even" -- "$K" decimate --chain-size 9
check "chain too large" 2 "--chain-size must be between 4 and 20" -- "$K" decimate --chain-size 22
check "steps 0" 2 "--steps must be between 1" -- "$K" decimate --steps 0
check "stray argument" 2 "unexpected argument 'x'" -- "$K" decimate x
check "unwritable table" 1 "cannot write '$T/nodir/t.tsv'" -- "$K" decimate -o "$T/nodir/t.tsv"
nofile "no table after usage errors" "$T"/t.tsv "$T"/t.tsv.*

# ---- blockspin ----
check "blockspin help" 0 "majority rule" -- "$K" blockspin --help
check "sample input" 0 "wrote 120" -- "$K" sample -L 8 --temps 1.5,5 -n 60 --seed 3 -o "$T/d.h5"
check "blockspin b=2" 0 "wrote 120 configurations" -- "$K" blockspin "$T/d.h5" -b 2 --seed 4 --threads 1 -o "$T/c1.h5"
check "coarse file is a 4x4 dataset" 0 "L = 4 \(4 x 4" -- "$K" info "$T/c1.h5"
check "blockspin 2 threads" 0 "wrote 120" -- "$K" blockspin "$T/d.h5" -b 2 --seed 4 --threads 2 -o "$T/c2.h5"
check "blockspin b=4" 0 "L=8 -> L=2" -- "$K" blockspin "$T/d.h5" -b 4 -o "$T/c4.h5"
if "$K" export "$T/c1.h5" --npy "$T/n1" >/dev/null 2>&1 && "$K" export "$T/c2.h5" --npy "$T/n2" >/dev/null 2>&1; then
  expect "--threads 1 and 2 give the same coarse spins" cmp -s "$T/n1/spins.npy" "$T/n2/spins.npy"
  expect "provenance: blockspin_b, seed, source" grep -q '"blockspin_b": 2' "$T/n1/attributes.json"
  expect "provenance: source file" grep -q "\"source_file\": \"$T/d.h5\"" "$T/n1/attributes.json"
  expect "provenance: source L" grep -q '"source_L": 8' "$T/n1/attributes.json"
else
  fail=$((fail+1)); echo "FAIL: export of the coarse files"
fi
check "b not dividing L" 1 "L = 8 is not divisible by the block size b = 3" -- "$K" blockspin "$T/d.h5" -b 3 -o "$T/x.h5"
check "L/b = 1" 1 "expected at least 2 coarse sites" -- "$K" blockspin "$T/d.h5" -b 8 -o "$T/x.h5"
check "b = 1" 2 "-b must be between 2" -- "$K" blockspin "$T/d.h5" -b 1 -o "$T/x.h5"
check "b text" 2 "-b expects an integer" -- "$K" blockspin "$T/d.h5" -b two -o "$T/x.h5"
check "missing -b" 2 "-b/--block is required" -- "$K" blockspin "$T/d.h5" -o "$T/x.h5"
check "missing -o" 2 "--output is required" -- "$K" blockspin "$T/d.h5" -b 2
check "missing input" 2 "input dataset is required" -- "$K" blockspin -b 2 -o "$T/x.h5"
check "missing file" 1 "nope.h5" -- "$K" blockspin "$T/nope.h5" -b 2 -o "$T/x.h5"
check "not a dataset" 1 "dec.tsv" -- "$K" blockspin "$T/dec.tsv" -b 2 -o "$T/x.h5"
check "unwritable output" 1 "cannot write '$T/nodir/x.h5'" -- "$K" blockspin "$T/d.h5" -b 2 -o "$T/nodir/x.h5"
nofile "nothing left after failures" "$T"/x.h5 "$T"/x.h5.* "$T"/*.tmp* "$T"/*.probe*
cp "$T/c1.h5" "$T/keep.h5"
check "failing run keeps old file" 1 "not divisible" -- "$K" blockspin "$T/d.h5" -b 3 -o "$T/keep.h5"
expect "old file unchanged" cmp -s "$T/c1.h5" "$T/keep.h5"

lib_cli_done
