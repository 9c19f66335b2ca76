#!/usr/bin/env bash
# Numerical faults and resource limits at the command line (issue 7):
#   - NaN/Inf injected by an absurd learning rate into train-dbn (in layer 1)
#     and train-thermometer: exit 1, the message names the epoch (and layer)
#     and suggests a lower learning rate; the last good state is kept (DBN:
#     layer 0 and the previous file is otherwise replaced only by a complete
#     file; thermometer: the previous model is untouched);
#   - requests beyond the memory of any machine, or beyond an address-space
#     limit (ulimit -v), are refused up front with the size they would need,
#     before any work, and write nothing.
set -u
K=${1:?usage: cli_faults.sh path/to/kadanoff}
. "$(dirname "$0")/lib_cli.sh"

"$K" sample -L 4 --temps 1.5,2.5,3.5 -n 200 --seed 2 --threads 1 -q -o "$T/d.h5" || bad "data"
TR=(--threads 1 --seed 5)

# ---- NaN injection -------------------------------------------------------------------
# train-dbn: layer 0 trains normally, layer 1 gets lr 1e300 and diverges in epoch 1
check "dbn NaN in layer 1" 1 "layer 1: .*diverged in epoch 1.*lower learning rate" -- \
  "$K" train-dbn "$T/d.h5" --layers 8,4 --epochs 2 --lr 0.05,1e300 "${TR[@]}" -q -o "$T/dbn.h5"
# layer 1 had no good epoch: the file holds layer 0, complete
grep -q "the 1 layer(s) up to the last good state are saved" "$T/err" && ok || bad "dbn NaN: saved-layers message"
check "dbn NaN: layer 0 complete in the file" 0 "epochs +2 of 2 done" -- "$K" info "$T/dbn.h5"
grep -q "network *1 layers: 16-8;" "$T/out" && ok || bad "dbn NaN: file should hold layer 0 only"
# a resume of a diverged run is refused or diverges again, never silently continues
"$K" train-dbn "$T/d.h5" --layers 8,4 --epochs 2 --lr 0.05,1e300 "${TR[@]}" -q --resume -o "$T/dbn.h5" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "diverged\|cannot be resumed" "$T/err" && ok || bad "dbn NaN: resume status $rc"
# NaN in layer 0 of a fresh run: nothing trained, an existing file is untouched
cp "$T/d.h5" "$T/keep.h5"
check "dbn NaN in layer 0" 1 "layer 0: .*diverged in epoch 1" -- \
  "$K" train-dbn "$T/d.h5" --layers 8,4 --epochs 2 --lr 1e300 "${TR[@]}" -q -o "$T/keep.h5"
cmp -s "$T/d.h5" "$T/keep.h5" && ok || bad "dbn NaN in layer 0: the existing file changed"

# train-thermometer: lr 1e6 with ReLU diverges; the previous model is kept
"$K" train-thermometer "$T/d.h5" --hidden 8 --epochs 2 "${TR[@]}" -q -o "$T/th.h5" || bad "thermometer"
cp "$T/th.h5" "$T/th_keep.h5"
check "thermometer NaN" 1 "diverged in epoch [0-9]+, batch [0-9]+.*try a smaller one" -- \
  "$K" train-thermometer "$T/d.h5" --hidden 32,32,32 --activation relu --lr 1e6 --epochs 5 "${TR[@]}" -o "$T/th.h5"
cmp -s "$T/th.h5" "$T/th_keep.h5" && ok || bad "thermometer NaN: the previous model changed"
# exploding but finite weights (tanh, lr 1e5: |w| passes 1e4 in the first batch)
check "thermometer exploding weights" 1 "diverged in epoch 1, batch 1: a weight .*exceeded \+-1e4.*try a smaller one" -- \
  "$K" train-thermometer "$T/d.h5" --hidden 8 --lr 1e5 --epochs 3 "${TR[@]}" -o "$T/th.h5"
cmp -s "$T/th.h5" "$T/th_keep.h5" && ok || bad "thermometer exploding weights: the previous model changed"

# ---- resource limits ------------------------------------------------------------------
# 2 x 1e9 configurations of 4096^2 spins: 3.4e16 bytes, beyond any machine
check "sample: enormous request" 1 "would need [0-9.e+]+ GiB of memory" -- \
  "$K" sample -L 4096 --temps 1,2 -n 1000000000 -q -o "$T/huge.h5"
[ -e "$T/huge.h5" ] && bad "sample: enormous request wrote a file" || ok
# Address-space limits (ulimit -v); not under the sanitizers, which reserve
# terabytes of address space at start-up.
if [ -z "${KADANOFF_SANITIZED:-}" ]; then
  # 1 GiB: 3 x 100000 configurations of 128^2 spins need ~5 GiB, refused
  # before sampling, naming the limit
  (ulimit -v 1048576; "$K" sample -L 128 --temps 1,2,3 -n 100000 -q -o "$T/big.h5") >"$T/out" 2>"$T/err"; rc=$?
  if [ $rc = 1 ] && grep -q "would need .* GiB.*ulimit -v" "$T/err"; then ok
  else bad "sample under ulimit -v: status $rc"; sed 's/^/  | /' "$T/err" | head -3; fi
  # 4 GiB: an RBM 16-10^8 has 1.6e9 weights, 6 GiB alone
  (ulimit -v 4194304; "$K" train-rbm "$T/d.h5" --hidden 100000000 --epochs 1 -q -o "$T/r.h5") >"$T/out" 2>"$T/err"; rc=$?
  if [ $rc = 1 ] && grep -q "RBM 16-100000000 would need .* GiB.*ulimit -v" "$T/err"; then ok
  else bad "train-rbm huge: status $rc"; sed 's/^/  | /' "$T/err" | head -3; fi
  [ -e "$T/r.h5" ] && bad "train-rbm huge wrote a file" || ok
fi

lib_cli_done
