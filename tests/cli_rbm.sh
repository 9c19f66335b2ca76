#!/usr/bin/env bash
# CLI checks for the RBM commands, end to end at tiny size: sample -> train-rbm
# -> evaluate -> generate -> info; train-dbn; --threads 1 and 2 byte-identical;
# --resume equivalent to an uninterrupted run; lattice mismatch, wrong file
# types and bad option values (exit 1/2, message naming the file, no partial
# output); NaN in training (exit 1 naming the epoch, previous model intact);
# SIGINT (checkpoint, exit 130, resumable).
set -u
K=${1:?usage: cli_rbm.sh path/to/kadanoff}
. "$(dirname "$0")/lib_cli.sh"
npy() { # npy MODEL DIR: export the arrays of a model
  "$K" export "$1" --npy "$2" -q >/dev/null 2>&1 || bad "export $1"
}

# ---- data --------------------------------------------------------------------
"$K" sample -L 4 --temps 1.5,2.5,inf -n 200 --seed 2 --threads 1 -q -o "$T/d.h5" || bad "sample L=4"
"$K" sample -L 6 --temps 2.5 -n 50 --seed 2 --threads 1 -q -o "$T/d6.h5" || bad "sample L=6"
TR=(--threads 1 --seed 5)

# ---- help ----------------------------------------------------------------------
for c in train-rbm train-dbn evaluate generate; do
  check "$c --help" 0 "^Usage: kadanoff $c" -- "$K" $c --help
done

# ---- sample -> train-rbm -> evaluate -> generate -> info -----------------------
check "train-rbm" 0 "wrote $T/r.h5: RBM 16-6" -- "$K" train-rbm "$T/d.h5" --hidden 6 --epochs 8 --lr 0.05 "${TR[@]}" -o "$T/r.h5"
# row 0 is the untrained model; the exact log-likelihood (column 7) must rise
ll0=$(awk '$1=="0"{print $7}' "$T/out"); ll8=$(awk '$1=="8"{print $7}' "$T/out")
if awk -v a="$ll0" -v b="$ll8" 'BEGIN{exit !(a < 0 && b > a + 1)}'; then ok
else bad "exact logL did not rise: epoch 0 $ll0, epoch 8 $ll8"; fi
echo "  (train-rbm 16-6, 8 epochs: exact logL per configuration $ll0 -> $ll8)"
check "evaluate exact" 0 "ln Z = .*exact" -- "$K" evaluate "$T/r.h5" "$T/d.h5" --threads 1
check "evaluate rows" 0 "^ +all +600 " -- "$K" evaluate "$T/r.h5" "$T/d.h5" --threads 1
check "evaluate AIS" 0 "AIS, 50 runs x 200 steps, standard error" -- "$K" evaluate "$T/r.h5" "$T/d.h5" --exact-max 0 --ais-runs 50 --ais-steps 200 --threads 1
check "evaluate --temps" 0 "^ +2.5 +200 " -- "$K" evaluate "$T/r.h5" "$T/d.h5" --temps 2.5 --threads 1
check "generate" 0 "wrote 120 configurations" -- "$K" generate "$T/r.h5" -n 120 --gibbs 50 --chains 40 --interval 5 --threads 1 -o "$T/g.h5"
check "info generated" 0 "rbm-gibbs" -- "$K" info "$T/g.h5"
check "evaluate on generated" 0 "unknown +120" -- "$K" evaluate "$T/r.h5" "$T/g.h5" --threads 1
check "info model" 0 "epochs +8 of 8 done" -- "$K" info "$T/r.h5"
check "info model data" 0 "temperatures 1.5 2.5 inf" -- "$K" info "$T/r.h5"
check "train-rbm --val --ais" 0 "lnZ_ais" -- "$K" train-rbm "$T/d.h5" --hidden 4 --epochs 2 --val 0.2 --ais-every 1 --ais-runs 10 --ais-steps 50 --pcd 2 --adam --units binary "${TR[@]}" -o "$T/ra.h5"
check "train-rbm --temps/--exclude" 0 "on 200 configurations" -- "$K" train-rbm "$T/d.h5" --hidden 4 --epochs 1 --temps 1.5,2.5 --exclude 1.5 "${TR[@]}" -o "$T/rt.h5"

# ---- train-dbn --------------------------------------------------------------------
check "train-dbn" 0 "wrote $T/dbn.h5: DBN 16-6-3" -- "$K" train-dbn "$T/d.h5" --layers 6,3 --epochs 3,2 --lr 0.05,0.02 --units spin,binary,binary "${TR[@]}" -o "$T/dbn.h5"
check "info dbn" 0 "2 layers: 16-6-3" -- "$K" info "$T/dbn.h5"
check "evaluate dbn" 0 "recon_2" -- "$K" evaluate "$T/dbn.h5" "$T/d.h5" --threads 1
check "generate dbn" 0 "wrote 30 configurations" -- "$K" generate "$T/dbn.h5" -n 30 --gibbs 20 --threads 1 -o "$T/gd.h5"
check "train-dbn --propagate sample" 0 "up-pass samples" -- "$K" train-dbn "$T/d.h5" --layers 4,2 --epochs 1 --propagate sample "${TR[@]}" -o "$T/dbn2.h5"

# ---- same seed, any thread count ---------------------------------------------------
"$K" train-rbm "$T/d.h5" --hidden 24 --pcd 2 --epochs 3 --batch 50 --seed 9 --threads 1 -q -o "$T/t1.h5" || bad "train t1"
"$K" train-rbm "$T/d.h5" --hidden 24 --pcd 2 --epochs 3 --batch 50 --seed 9 --threads 2 -q -o "$T/t2.h5" || bad "train t2"
npy "$T/t1.h5" "$T/n1"; npy "$T/t2.h5" "$T/n2"
same "--threads 1 vs 2: W" "$T/n1/W.npy" "$T/n2/W.npy"
same "--threads 1 vs 2: PCD chains" "$T/n1/state.chains.npy" "$T/n2/state.chains.npy"

# ---- resume ------------------------------------------------------------------------
RES=(--hidden 5 --pcd 1 --adam --lr 0.02 --val 0.1 --lr-schedule exponential:0.9 "${TR[@]}")
"$K" train-rbm "$T/d.h5" "${RES[@]}" --epochs 6 -q -o "$T/full.h5" || bad "train full"
"$K" train-rbm "$T/d.h5" "${RES[@]}" --epochs 3 -q -o "$T/part.h5" || bad "train part"
cp "$T/part.h5" "$T/part_copy.h5"
check "resume" 0 "resuming, epochs 4..6 of 6" -- "$K" train-rbm "$T/d.h5" --resume --epochs 6 -o "$T/part.h5" --threads 2
npy "$T/full.h5" "$T/nf"; npy "$T/part.h5" "$T/np"
same "resume: W" "$T/nf/W.npy" "$T/np/W.npy"
same "resume: Adam moments" "$T/nf/state.second_moment.npy" "$T/np/state.second_moment.npy"
same "resume: PCD chains" "$T/nf/state.chains.npy" "$T/np/state.chains.npy"
check "resume without DATA (recorded path)" 0 "nothing to do" -- "$K" train-rbm --resume -o "$T/part.h5"
cp "$T/part_copy.h5" "$T/part_copy.orig"
check "resume: mismatching lattice" 1 "d6.h5: square lattice L = 6 \(36 spins\) does not match the model .*part_copy.h5" -- "$K" train-rbm "$T/d6.h5" --resume --epochs 6 -o "$T/part_copy.h5"
same "resume refused: model untouched" "$T/part_copy.h5" "$T/part_copy.orig"
check "resume: hyperparameters fixed" 2 "--lr cannot be given with --resume" -- "$K" train-rbm "$T/d.h5" --resume --lr 0.1 -o "$T/part_copy.h5"
check "resume: missing model" 1 "nomodel.h5: cannot open" -- "$K" train-rbm "$T/d.h5" --resume -o "$T/nomodel.h5"

# ---- bad input ---------------------------------------------------------------------
check "evaluate: mismatching lattice" 1 "d6.h5: square lattice L = 6 .* does not match the model" -- "$K" evaluate "$T/r.h5" "$T/d6.h5"
check "evaluate: dataset as model" 1 "d.h5: file has format 'kadanoff-dataset', expected a model" -- "$K" evaluate "$T/d.h5" "$T/d.h5"
check "evaluate: model as dataset" 1 "r.h5: attribute 'format' is 'kadanoff-rbm', expected 'kadanoff-dataset'" -- "$K" evaluate "$T/r.h5" "$T/r.h5"
check "train-rbm: model as data" 1 "r.h5: .*expected 'kadanoff-dataset'" -- "$K" train-rbm "$T/r.h5" --hidden 4 -o "$T/x.h5"
check "resume: dataset as model" 1 "d.h5: .*this is a dataset" -- "$K" train-rbm --resume -o "$T/d.h5"
check "generate: dataset as model" 1 "d.h5: .*expected a model" -- "$K" generate "$T/d.h5" -o "$T/x.h5"
printf 'not hdf5\n' >"$T/text.h5"
check "evaluate: text file" 1 "text.h5: not an HDF5 file" -- "$K" evaluate "$T/text.h5" "$T/d.h5"
check "temperature absent" 1 "d.h5: temperature 9 of --temps does not occur in the dataset" -- "$K" train-rbm "$T/d.h5" --hidden 4 --temps 9 -o "$T/x.h5"
check "hidden 0" 2 "--hidden must be between 1" -- "$K" train-rbm "$T/d.h5" --hidden 0 -o "$T/x.h5"
check "hidden missing" 2 "--hidden is required" -- "$K" train-rbm "$T/d.h5" -o "$T/x.h5"
check "negative lr" 2 "--lr must be between" -- "$K" train-rbm "$T/d.h5" --hidden 4 --lr -1 -o "$T/x.h5"
check "cd and pcd" 2 "--cd and --pcd exclude each other" -- "$K" train-rbm "$T/d.h5" --hidden 4 --cd 1 --pcd 2 -o "$T/x.h5"
check "bad schedule" 2 "--lr-schedule expects" -- "$K" train-rbm "$T/d.h5" --hidden 4 --lr-schedule cosine -o "$T/x.h5"
check "bad units" 2 "unknown unit type 'ising'" -- "$K" train-rbm "$T/d.h5" --hidden 4 --units ising -o "$T/x.h5"
check "momentum 1" 2 "--momentum must be between" -- "$K" train-rbm "$T/d.h5" --hidden 4 --momentum 1 -o "$T/x.h5"
check "list for one RBM" 2 "--epochs expects one value" -- "$K" train-rbm "$T/d.h5" --hidden 4 --epochs 3,4 -o "$T/x.h5"
check "bad temps text" 2 "--temps: " -- "$K" train-rbm "$T/d.h5" --hidden 4 --temps 1,x -o "$T/x.h5"
check "missing output" 2 "--output is required" -- "$K" train-rbm "$T/d.h5" --hidden 4
check "dbn list length" 2 "--epochs has 2 values for 3 layers" -- "$K" train-dbn "$T/d.h5" --layers 8,4,2 --epochs 1,2 -o "$T/x.h5"
check "dbn units length" 2 "--units has 2 values" -- "$K" train-dbn "$T/d.h5" --layers 8,4 --units spin,binary -o "$T/x.h5"
check "dbn no layers" 2 "--layers is required" -- "$K" train-dbn "$T/d.h5" -o "$T/x.h5"
check "generate chains > n" 2 "--chains \(50\) must not exceed --samples \(10\)" -- "$K" generate "$T/r.h5" -n 10 --chains 50 -o "$T/x.h5"
check "evaluate one file" 2 "expected MODEL.h5 and DATA.h5" -- "$K" evaluate "$T/r.h5"
check "unwritable output" 1 "cannot write '$T/nodir/x.h5'" -- "$K" train-rbm "$T/d.h5" --hidden 4 -o "$T/nodir/x.h5"
nofile "no output after failures" "$T"/x.h5 "$T"/x.h5.* "$T"/*.tmp.* "$T"/*.probe.*

# ---- NaN / Inf in training ---------------------------------------------------------------
cp "$T/r.h5" "$T/keep.h5"
check "NaN in epoch 1" 1 "diverged in epoch 1.*try a lower learning rate" -- "$K" train-rbm "$T/d.h5" --hidden 6 --lr 1e300 "${TR[@]}" -o "$T/keep.h5"
same "NaN in epoch 1: previous model intact" "$T/r.h5" "$T/keep.h5"
# exploding but finite: lr 3000 drives |W| past 1e4 without Inf/NaN (the run used
# to finish with exit 0 and save saturated weights); it counts as a divergence
check "exploding weights in epoch 1" 1 "diverged in epoch 1.*beyond \+-1e4.*try a lower learning rate" -- "$K" train-rbm "$T/d.h5" --hidden 6 --lr 3000 "${TR[@]}" -o "$T/keep.h5"
same "exploding weights: previous model intact" "$T/r.h5" "$T/keep.h5"
check "NaN in epoch 2" 1 "diverged in epoch 2" -- "$K" train-rbm "$T/d.h5" --hidden 6 --lr 0.01 --lr-schedule linear:1e300 --epochs 4 "${TR[@]}" -o "$T/nan2.h5"
grep -q "last good model (after epoch 1) is saved in $T/nan2.h5" "$T/err" && ok || bad "NaN in epoch 2: no saved-model message"
check "NaN in epoch 2: last good model kept" 0 "epochs +1 of 4 done" -- "$K" info "$T/nan2.h5"

# ---- SIGINT: finish the epoch, checkpoint, exit 130, resumable --------------------------------
"$K" train-rbm "$T/d.h5" --hidden 6 --epochs 1000000 --monitor-every 0 "${TR[@]}" -q -o "$T/int.h5" 2>"$T/interr" &
pid=$!; sleep 1; kill -INT $pid; wait $pid; st=$?
if [ $st = 130 ] && grep -q "interrupted by SIGINT after epoch" "$T/interr" && grep -q -- "--resume -o $T/int.h5" "$T/interr"; then ok
else bad "SIGINT: status $st"; cat "$T/interr"; fi
done_int=$("$K" info "$T/int.h5" 2>/dev/null | awk '/^epochs/{print $2}')
if [ -n "$done_int" ] && [ "$done_int" -ge 1 ]; then ok; else bad "SIGINT: no checkpoint with epochs done ($done_int)"; fi
check "resume after SIGINT" 0 "wrote $T/int.h5" -- "$K" train-rbm "$T/d.h5" --resume --epochs $((done_int + 2)) -o "$T/int.h5"
check "resumed epochs" 0 "epochs +$((done_int + 2)) of $((done_int + 2)) done" -- "$K" info "$T/int.h5"
nofile "no temp files left" "$T"/*.tmp.* "$T"/*.probe.*

echo "$pass passed, $fail failed"
[ $fail = 0 ]
