#!/usr/bin/env bash
# CLI checks for `kadanoff train-thermometer` and `kadanoff measure`: a tiny
# end-to-end run (sample -> train -> measure), identical models for --threads 1
# and 2, and bad input (missing file, wrong file type, lattice mismatch, bad
# options): exit 1 (failure) or 2 (usage), one clear message, no partial output.
set -u
K=${1:?usage: cli_thermometer.sh path/to/kadanoff}
. "$(dirname "$0")/lib_cli.sh"

# data: 4x4 at four temperatures (T = inf included), and a 6x6 lattice for mismatches
"$K" sample -L 4 --temps 1,2,3,inf -n 40 --seed 2 -q -o "$T/d4.h5" || { echo "FAIL: sample"; exit 1; }
"$K" sample -L 6 --temps 1,2 -n 20 --seed 2 -q -o "$T/d6.h5" || { echo "FAIL: sample"; exit 1; }
"$K" sample -L 4 --temps 1 -n 10 --seed 2 -q -o "$T/one.h5" || { echo "FAIL: sample"; exit 1; }

TR="train-thermometer"
check "train help" 0 "--augment-flip" -- "$K" $TR --help
check "measure help" 0 "--thermometer FILE" -- "$K" measure --help
check "train runs" 0 "wrote $T/th.h5" -- "$K" $TR "$T/d4.h5" --hidden 8,4 --epochs 5 --batch 10 --augment-flip --augment-shift --seed 3 --threads 1 -o "$T/th.h5"
has "calibration table printed" "T_mean \+- err"
has "inf class in the table" "^ +inf +8 "
check "adam, relu, --temps subset" 0 "2 temperatures" -- "$K" $TR "$T/d4.h5" --adam --activation relu --hidden 6 --temps 1,3 --epochs 3 --batch 16 -o "$T/th13.h5"
check "no hidden layer" 0 "network 16-4 " -- "$K" $TR "$T/d4.h5" --hidden none --epochs 2 --confusion -o "$T/th0.h5"
has "confusion matrix printed" "confusion matrix"

# same seed, 1 or 2 threads: the same weights
"$K" $TR "$T/d4.h5" --hidden 8,4 --epochs 5 --batch 10 --augment-flip --augment-shift --seed 3 --threads 2 -q -o "$T/th2.h5"
if "$K" export "$T/th.h5" --npy "$T/n1" >/dev/null 2>&1 && "$K" export "$T/th2.h5" --npy "$T/n2" >/dev/null 2>&1; then
  same "--threads 1 vs 2: layer 1 weights" "$T/n1/layer1.weights.npy" "$T/n2/layer1.weights.npy"
  same "--threads 1 vs 2: output weights" "$T/n1/layer3.weights.npy" "$T/n2/layer3.weights.npy"
else
  fail=$((fail+1)); echo "FAIL: export of the thermometer files"
fi

check "measure with thermometer and reference" 0 "T_G\(r=1\)" -- "$K" measure "$T/d4.h5" --thermometer "$T/th.h5" --reference "$T/d4.h5"
has "one row per temperature" "^ +inf +40 "
check "measure, energy only" 0 "T_e \+- err" -- "$K" measure "$T/d4.h5"
check "measure --probabilities" 0 "p\(T\): 1:" -- "$K" measure "$T/d4.h5" --thermometer "$T/th.h5" --probabilities

# bad input: train-thermometer
check "train: missing file" 1 "$T/missing.h5" -- "$K" $TR "$T/missing.h5" -o "$T/bad.h5"
check "train: thermometer given as data" 1 "expected 'kadanoff-dataset'" -- "$K" $TR "$T/th.h5" -o "$T/bad.h5"
check "train: text file" 1 "HDF5" -- "$K" $TR "$K" -o "$T/bad.h5"
check "train: one temperature" 1 "2\.\.[0-9]+ distinct temperatures" -- "$K" $TR "$T/one.h5" -o "$T/bad.h5"
check "train: temperature not in data" 1 "temperature 7 of the selection does not occur" -- "$K" $TR "$T/d4.h5" --temps 1,7 -o "$T/bad.h5"
check "train: no training rows left" 1 "none left for training" -- "$K" $TR "$T/d4.h5" --val 0.5 --test 0.49 -o "$T/bad.h5"
check "train: missing output" 2 "--output is required" -- "$K" $TR "$T/d4.h5"
check "train: missing data" 2 "missing the dataset file" -- "$K" $TR -o "$T/bad.h5"
check "train: bad hidden" 2 "--hidden expects widths" -- "$K" $TR "$T/d4.h5" --hidden 8,x -o "$T/bad.h5"
check "train: hidden width 0" 2 "width 0 out of range" -- "$K" $TR "$T/d4.h5" --hidden 8,0 -o "$T/bad.h5"
check "train: bad activation" 2 "unknown activation 'softsign'" -- "$K" $TR "$T/d4.h5" --activation softsign -o "$T/bad.h5"
check "train: epochs 0" 2 "--epochs must be between 1" -- "$K" $TR "$T/d4.h5" --epochs 0 -o "$T/bad.h5"
check "train: val + test >= 1" 2 "must be below 1" -- "$K" $TR "$T/d4.h5" --val 0.6 --test 0.5 -o "$T/bad.h5"
check "train: momentum with adam" 2 "--momentum applies to SGD" -- "$K" $TR "$T/d4.h5" --adam --momentum 0.5 -o "$T/bad.h5"
check "train: bad temps" 2 "--temps" -- "$K" $TR "$T/d4.h5" --temps 1,x -o "$T/bad.h5"
check "train: unknown option" 2 "unknown option '--frob'" -- "$K" $TR "$T/d4.h5" --frob -o "$T/bad.h5"
check "train: unwritable output" 1 "cannot write '$T/nodir/th.h5'" -- "$K" $TR "$T/d4.h5" --epochs 1 -o "$T/nodir/th.h5"
check "train: diverging lr" 1 "diverged in epoch [0-9]+.*weights of epoch" -- "$K" $TR "$T/d4.h5" --hidden 32,32,32 --activation relu --lr 1e6 --epochs 5 -o "$T/bad.h5"
nofile "no output after failed trainings" "$T"/bad.h5 "$T"/bad.h5.*
cp "$T/th.h5" "$T/keep.h5"
check "train: failure keeps an existing model" 1 "does not occur" -- "$K" $TR "$T/d4.h5" --temps 9 -o "$T/keep.h5"
same "existing model untouched" "$T/th.h5" "$T/keep.h5"

# bad input: measure
check "measure: lattice mismatch" 1 "trained on a square lattice of L = 4.*L = 6" -- "$K" measure "$T/d6.h5" --thermometer "$T/th.h5"
check "measure: reference of another L" 1 "reference dataset is of a square lattice of L = 6" -- "$K" measure "$T/d4.h5" --reference "$T/d6.h5"
check "measure: missing file" 1 "$T/missing.h5" -- "$K" measure "$T/missing.h5"
check "measure: missing thermometer" 1 "$T/missing.h5" -- "$K" measure "$T/d4.h5" --thermometer "$T/missing.h5"
check "measure: dataset as thermometer" 1 "expected 'kadanoff-thermometer'" -- "$K" measure "$T/d4.h5" --thermometer "$T/d4.h5"
check "measure: thermometer as data" 1 "expected 'kadanoff-dataset'" -- "$K" measure "$T/th.h5"
check "measure: reference without summary rows" 1 "at least 2" -- "$K" measure "$T/d4.h5" --reference "$T/one.h5"
check "measure: r too large" 1 "distance r = 3" -- "$K" measure "$T/d4.h5" --reference "$T/d4.h5" --r 3
check "measure: bad r" 2 "--r must be between 1" -- "$K" measure "$T/d4.h5" --r 0
check "measure: no file" 2 "missing the file to measure" -- "$K" measure
check "measure: two files" 2 "unexpected argument" -- "$K" measure "$T/d4.h5" "$T/d6.h5"
nofile "no temporary files left" "$T"/*.tmp* "$T"/*.probe*

lib_cli_done
