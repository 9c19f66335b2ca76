#!/usr/bin/env bash
# MPI runs of the CLI (issue 8, docs/cluster.md): `sample` and `flow` give the
# same arrays for P = 1, 2, 3 processes as a single process; `reproduce` runs
# its stages over the processes (its reports on rank 0); `train-rbm` and
# `train-thermometer` are bit-identical for any P in --reduction deterministic
# mode and within rounding in fast mode;
# checkpoints (sample, flow, train-rbm, train-dbn, train-thermometer) resume
# with another P; failures stop the whole job with one
# message from rank 0, exit 1 and no output file.
# Skipped (exit 77, ctest SKIP_RETURN_CODE) unless the CLI was built with
# -DKADANOFF_MPI=ON (tests/CMakeLists.txt sets KADANOFF_MPI and MPIEXEC).
set -u
K=${1:?usage: cli_mpi.sh path/to/kadanoff}
case $K in /*) ;; *) K=$PWD/$K ;; esac # the reproduce tests change directory
if [ "${KADANOFF_MPI:-0}" != 1 ]; then
  echo "SKIP: kadanoff was built without MPI (configure with -DKADANOFF_MPI=ON, see docs/cluster.md)"
  exit 77
fi
MPIEXEC=${MPIEXEC:-mpirun}
MR=("$MPIEXEC" --oversubscribe)
[ "$(id -u)" = 0 ] && MR+=(--allow-run-as-root)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
# same NAME A.h5 B.h5 ARRAY...: the exported arrays are byte-identical
same() {
  local name=$1 a=$2 b=$3; shift 3
  rm -rf "$T/xa" "$T/xb"
  if ! "$K" export "$a" --npy "$T/xa" -q 2>/dev/null || ! "$K" export "$b" --npy "$T/xb" -q 2>/dev/null; then
    bad "$name: export failed"; return
  fi
  for arr in "$@"; do
    if cmp -s "$T/xa/$arr.npy" "$T/xb/$arr.npy"; then ok; else bad "$name: $arr differs"; fi
  done
}
# run NAME P ARGS...: `mpirun -np P kadanoff ARGS...` must succeed
run() {
  local name=$1 np=$2; shift 2
  if "${MR[@]}" -np "$np" "$K" "$@" >"$T/out" 2>"$T/err"; then ok
  else bad "$name: exit $?"; sed 's/^/  | /' "$T/err" | head -5; fi
}
# mismatch_resume NAME OUT PHRASE ARGS...: resuming OUT's checkpoint on 2
# processes with another --seed fails on every process the same way: one
# message (PHRASE) from rank 0, exit 1, no job abort, the checkpoint kept
mismatch_resume() {
  local name=$1 out=$2 phrase=$3 st; shift 3
  "${MR[@]}" -np 2 "$K" "$@" --seed 99 --resume -o "$out" >"$T/out" 2>"$T/err"; st=$?
  if [ $st = 1 ] && grep -q -- "$phrase" "$T/err" && ! grep -q "aborting the job" "$T/err" && [ -e "$out.ckpt" ] && [ ! -e "$out" ]
  then ok; else bad "$name: resume with another seed on 2 processes: status $st"; sed 's/^/  | /' "$T/err" | head -6; fi
}
# term_mpirun OUT P ARGS...: `mpirun -np P kadanoff ARGS... -o OUT` (output in
# $T/out, $T/err), its processes sent SIGTERM a delay after they started, as
# Slurm does at a time limit (a SIGTERM to Open MPI's mpirun is passed on, but
# followed by SIGKILL after odls_base_sigkill_timeout = 1 s, which may come
# before the checkpoint is written); P = 0: kadanoff without mpirun. The
# checkpoint OUT.ckpt must be written and OUT not. The delay is found by
# bisection (first 1 s): a run that finished first was signalled too late, one
# that wrote nothing (the signal came during start-up or before the first
# piece of work was complete) too early. Fails if no try of 7 left a checkpoint.
term_mpirun() {
  local out=$1 np=$2 mpid delay=1 lo=0 hi=0 try; shift 2
  for try in 1 2 3 4 5 6 7; do
    rm -f "$out" "$out.ckpt"
    if [ "$np" = 0 ]; then "$K" "$@" -o "$out" >"$T/out" 2>"$T/err" &
    else "${MR[@]}" -np "$np" "$K" "$@" -o "$out" >"$T/out" 2>"$T/err" & fi
    mpid=$!
    for _ in $(seq 100); do [ "$np" = 0 ] || pgrep -P $mpid >/dev/null && break; sleep 0.1; done
    sleep $delay
    if [ "$np" = 0 ]; then kill -TERM $mpid 2>/dev/null
    else kill -TERM $(pgrep -P $mpid) 2>/dev/null; fi
    wait $mpid
    [ -e "$out.ckpt" ] && [ ! -e "$out" ] && return 0
    if [ -e "$out" ]; then hi=$delay; else lo=$delay; fi
    delay=$(awk -v lo=$lo -v hi=$hi 'BEGIN { print (hi > 0 ? (lo + hi) / 2 : 2 * lo) }')
  done
  return 1
}

# ---- sample: identical arrays for any P ------------------------------------------
S=(sample -L 8 --temps 1.5,2.27,3 -n 60 --chains 3 --seed 5 --threads 1 -q)
"$K" "${S[@]}" -o "$T/s.h5" || bad "serial sample"
ARR=(spins temperature energy magnetization summary correlation correlation_err)
for P in 1 2 3; do
  run "sample -np $P" $P "${S[@]}" -o "$T/s$P.h5"
  same "sample -np $P vs one process" "$T/s.h5" "$T/s$P.h5" "${ARR[@]}"
done
# Interrupted on 2 processes: rank 0 saves the temperatures whose chains all
# completed (on either process); resumed on 3 processes, and a one-process
# checkpoint resumed on 2, they give the arrays of an uninterrupted run.
SI=(sample -L 24 --temps 1.5:3:0.3 -n 8000 --algorithm metropolis --burn-in 300 --interval 4 --chains 2
    --seed 3 --threads 1 -q)
"$K" "${SI[@]}" -o "$T/si.h5" || bad "sample: uninterrupted run"
if term_mpirun "$T/si2.h5" 2 "${SI[@]}" && grep -q "temperatures are complete and saved" "$T/err"; then ok
  run "sample: -np 2 checkpoint resumed on 3" 3 "${SI[@]}" --resume -o "$T/si2.h5"
  same "sample interrupted at P = 2, resumed at P = 3" "$T/si.h5" "$T/si2.h5" "${ARR[@]}"
else bad "sample -np 2 interrupted: $(ls "$T"/si2.h5* 2>&1)"; sed 's/^/  | /' "$T/err" | head -5; fi
if term_mpirun "$T/si1.h5" 0 "${SI[@]}"; then ok
  run "sample: one-process checkpoint resumed on 2" 2 "${SI[@]}" --resume -o "$T/si1.h5"
  same "sample interrupted at P = 1, resumed at P = 2" "$T/si.h5" "$T/si1.h5" "${ARR[@]}"
else bad "sample interrupted on one process: $(ls "$T"/si1.h5* 2>&1)"; fi
# multispin: the items are temperatures (64 replicas each)
M=(sample -L 8 --temps 2,2.5,3 -n 128 --chains 64 --algorithm multispin --seed 5 --threads 1 -q)
"$K" "${M[@]}" -o "$T/m.h5" || bad "serial multispin sample"
run "multispin -np 2" 2 "${M[@]}" -o "$T/m2.h5"
same "multispin -np 2 vs one process" "$T/m.h5" "$T/m2.h5" "${ARR[@]}"
MH=(sample -L 8 --temps 2,2.5,3 -n 128 --chains 64 --algorithm multispin-heatbath --seed 5 --threads 1 -q)
"$K" "${MH[@]}" -o "$T/mh.h5" || bad "serial multispin-heatbath sample"
run "multispin-heatbath -np 3" 3 "${MH[@]}" -o "$T/mh3.h5"
same "multispin-heatbath -np 3 vs one process" "$T/mh.h5" "$T/mh3.h5" "${ARR[@]}"

# ---- train-rbm ---------------------------------------------------------------------
"$K" sample -L 6 --temps 2,2.5,3 -n 200 --seed 3 --threads 1 -q -o "$T/d.h5" || bad "training data"
R=(train-rbm "$T/d.h5" --hidden 8 --epochs 3 --batch 50 --lr 0.05 --seed 2 --threads 1 -q)
P_ARR=(W visible_bias hidden_bias state.velocity)
"$K" "${R[@]}" -o "$T/r.h5" || bad "serial train-rbm"
# fast mode on one process is the serial trainer, bit for bit
run "fast -np 1" 1 "${R[@]}" -o "$T/rf1.h5"
same "fast -np 1 vs serial" "$T/r.h5" "$T/rf1.h5" "${P_ARR[@]}"
# deterministic mode: the same bits for P = 1, 2, 3 and in the build without MPI
"$K" "${R[@]}" --reduction deterministic -o "$T/rd.h5" || bad "deterministic, no mpirun"
for P in 1 2 3; do
  run "deterministic -np $P" $P "${R[@]}" --reduction deterministic -o "$T/rd$P.h5"
  same "deterministic -np $P vs one process" "$T/rd.h5" "$T/rd$P.h5" "${P_ARR[@]}"
done
# PCD + Adam, odd block size (blocks of chains, last block short)
Q=(train-rbm "$T/d.h5" --hidden 8 --epochs 2 --batch 40 --pcd 2 --adam --lr 0.01 --seed 2 --threads 1 -q
   --reduction deterministic --reduction-block 7)
run "PCD deterministic -np 1" 1 "${Q[@]}" -o "$T/q1.h5"
run "PCD deterministic -np 3" 3 "${Q[@]}" -o "$T/q3.h5"
same "PCD deterministic -np 3 vs -np 1" "$T/q1.h5" "$T/q3.h5" "${P_ARR[@]}" state.chains state.second_moment
# train-dbn: every layer is trained the same way; P = 1 (no mpirun) vs P = 3
D=(train-dbn "$T/d.h5" --layers 8,4 --epochs 2 --batch 50 --lr 0.05 --seed 2 --threads 1 -q
   --reduction deterministic)
"$K" "${D[@]}" -o "$T/db.h5" || bad "train-dbn, no mpirun"
run "train-dbn deterministic -np 3" 3 "${D[@]}" -o "$T/db3.h5"
same "train-dbn deterministic -np 3 vs one process" "$T/db.h5" "$T/db3.h5" \
  layer0.W layer0.visible_bias layer0.hidden_bias layer1.W layer1.visible_bias layer1.hidden_bias
# train-dbn --resume with another P: layer 0 trained on 2 processes, then the
# run extended to --layers 8,4 on 3 (layer 0 kept, layer 1 trained on its up
# pass) equals the two-layer run of one process
"${MR[@]}" -np 2 "$K" "${D[@]/8,4/8}" -o "$T/dr.h5" >/dev/null 2>&1 || bad "train-dbn layer 0, -np 2"
run "train-dbn --resume -np 3" 3 "${D[@]}" --resume -o "$T/dr.h5"
same "train-dbn resumed with another P vs one process" "$T/db.h5" "$T/dr.h5" \
  layer0.W layer0.hidden_bias layer1.W layer1.visible_bias layer1.hidden_bias
# a checkpoint written with P = 2 resumes with P = 3 exactly as an uninterrupted run
C=(train-rbm "$T/d.h5" --hidden 8 --batch 50 --lr 0.05 --seed 2 --threads 1 -q --reduction deterministic)
run "resume: first 2 epochs, -np 2" 2 "${C[@]}" --epochs 4 --checkpoint-every 2 -o "$T/c.h5"
cp "$T/c.h5" "$T/c-full.h5"
"${MR[@]}" -np 2 "$K" "${C[@]}" --epochs 2 -o "$T/c.h5" >/dev/null 2>&1 || bad "resume: 2 epochs"
run "resume: to 4 epochs, -np 3" 3 train-rbm --resume --epochs 4 --reduction deterministic --threads 1 -q -o "$T/c.h5"
same "resumed with another P vs uninterrupted" "$T/c-full.h5" "$T/c.h5" "${P_ARR[@]}"
# fast mode on 2 processes: the partial gradients are added in another order,
# so the parameters differ by rounding only. Bound: every update adds B = 50
# float products per weight, each sum rounded with relative error ≲ 50·2^-24;
# a weight is a sum of 36 updates of size ≲ lr·1 = 0.05, so |ΔW| ≲ 36·0.05·50·6e-8
# ≈ 5e-6 (measured 2.5e-7). A Gibbs draw whose uniform lands within that rounding
# of its threshold would make the runs different samples of the training
# (ΔW ~ lr/B = 1e-3): with these fixed seeds it does not happen, and the check
# would catch a real error (a missing or doubled part is ΔW ~ 0.1).
run "fast -np 2" 2 "${R[@]}" -o "$T/rf2.h5"
# close NAME A.h5 B.h5 BOUND: W and the biases of A and B differ by less than BOUND
close() {
  rm -rf "$T/xa" "$T/xb"
  "$K" export "$2" --npy "$T/xa" -q 2>/dev/null; "$K" export "$3" --npy "$T/xb" -q 2>/dev/null
  if /usr/bin/python3 - "$T/xa" "$T/xb" "$1" "$4" <<'EOF'
import sys, numpy as np
a, b, name, bound = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
worst = max(float(np.abs(np.load(f"{a}/{x}.npy").astype(np.float64) - np.load(f"{b}/{x}.npy")).max())
            for x in ("W", "visible_bias", "hidden_bias"))
print(f"{name}: max |difference| from one process {worst:.3g}")
sys.exit(0 if worst < bound else 1)
EOF
  then ok; else bad "$1 differs from one process by more than $4"; fi
}
# Minibatches of B >= 64 rows: one process runs the CD chains over slices of
# the minibatch (src/rbm/cd_sliced.c), each MPI part (a part of a minibatch)
# the plain loops of src/rbm/cd.c. 1 epoch of 4 updates of B = 150 rows: the
# bound above gives 4·0.05·150·6e-8 ≈ 1.8e-6 (measured 3.7e-8); a
# part scaled by its own rows instead of the minibatch's doubles its gradient
# (measured |ΔW| ≈ 0.05 with B = 1000).
L=(train-rbm "$T/d.h5" --hidden 16 --epochs 1 --batch 150 --lr 0.05 --seed 2 --threads 2 -q)
if /usr/bin/python3 -c "import numpy" 2>/dev/null; then
  close "fast -np 2" "$T/r.h5" "$T/rf2.h5" 5e-6
  "$K" "${L[@]}" -o "$T/l.h5" || bad "serial train-rbm, B = 150"
  run "fast -np 2, B = 150" 2 "${L[@]}" -o "$T/l2.h5"
  close "fast -np 2, B = 150" "$T/l.h5" "$T/l2.h5" 1.8e-6
else
  echo "note: no numpy for /usr/bin/python3: fast-mode tolerance not checked"
fi

# ---- flow: the chains over processes --------------------------------------------
# 150 chains = blocks of 64, 64, 22: P = 2 gives rank 0 one block and rank 1 two,
# P = 3 one each; every array (sampled spins, mean-field values, per-chain
# energies, G(r) means and errors) must be the bits of one process, and the
# printed table (with the temperature readouts, which `export` leaves out) the
# same characters.
"$K" train-rbm "$T/d.h5" --hidden 8 --epochs 1 --seed 2 --threads 1 -q -o "$T/fr.h5" || bad "flow: RBM"
FL=(flow --rbm "$T/fr.h5" --steps 5 --chains 150 --keep-every 2 --seed 4 --threads 1 --reference "$T/d.h5")
FL_ARR=(energy magnetization correlation correlation_err kept_steps)
"$K" "${FL[@]}" -o "$T/fl.h5" | grep -v '^wrote' >"$T/fl.txt" || bad "serial flow"
"$K" "${FL[@]}" -q --mean-field -o "$T/flm.h5" || bad "serial mean-field flow"
for P in 1 2 3; do
  run "flow -np $P" $P "${FL[@]}" -o "$T/fl$P.h5"
  same "flow -np $P vs one process" "$T/fl.h5" "$T/fl$P.h5" "${FL_ARR[@]}" spins
  if grep -v '^wrote' "$T/out" | cmp -s - "$T/fl.txt"; then ok; else bad "flow -np $P: another table"; fi
  run "flow --mean-field -np $P" $P "${FL[@]}" -q --mean-field -o "$T/flm$P.h5"
  same "flow --mean-field -np $P vs one process" "$T/flm.h5" "$T/flm$P.h5" "${FL_ARR[@]}" values
done
# Interrupts: SIGTERM to mpirun (which passes it to every process) while the
# processes run (term_mpirun): every process stops after the same
# step, rank 0 writes the checkpoint, nothing under the final name; resumed on
# one process it gives the bits of an uninterrupted run. And the other way: a
# single-process checkpoint resumed on 3 processes.
FI=(flow --rbm "$T/fr.h5" --steps 6000 --chains 150 --keep-every 1000 --seed 4 --threads 1 -q)
"$K" "${FI[@]}" -o "$T/fi.h5" || bad "flow: uninterrupted run"
if term_mpirun "$T/fi2.h5" 2 "${FI[@]}" && grep -q "steps are done and saved" "$T/err"; then ok
  mismatch_resume "flow" "$T/fi2.h5" "flow resume:" "${FI[@]}"
  run "flow: -np 2 checkpoint resumed on 1" 1 "${FI[@]}" --resume -o "$T/fi2.h5"
  same "flow interrupted at P = 2, resumed at P = 1" "$T/fi.h5" "$T/fi2.h5" "${FL_ARR[@]}" spins
else bad "flow -np 2 interrupted: $(ls "$T"/fi2.h5* 2>&1)"; sed 's/^/  | /' "$T/err" | head -5; fi
if term_mpirun "$T/fi1.h5" 0 "${FI[@]}"; then ok
  run "flow: one-process checkpoint resumed on 3" 3 "${FI[@]}" --resume -o "$T/fi1.h5"
  same "flow interrupted at P = 1, resumed at P = 3" "$T/fi.h5" "$T/fi1.h5" "${FL_ARR[@]}" spins
else bad "flow interrupted on one process: $(ls "$T"/fi1.h5* 2>&1)"; fi

# ---- train-thermometer: the minibatches over processes ---------------------------
# deterministic: the same bits (weights, and the printed history and calibration)
# for P = 1, 2, 3 as one process without mpirun; fast on one process: the
# serial trainer bit for bit
TH=(train-thermometer "$T/d.h5" --hidden 16 --epochs 3 --batch 50 --seed 2 --threads 1 --augment-flip --adam --lr 0.01)
TH_ARR=(layer1.weights layer1.bias layer2.weights layer2.bias confusion)
"$K" "${TH[@]}" -q -o "$T/t.h5" || bad "serial train-thermometer"
"$K" "${TH[@]}" --reduction deterministic --reduction-block 7 -o "$T/td.h5" | grep -v '^wrote' >"$T/td.txt" \
  || bad "train-thermometer deterministic, no mpirun"
for P in 1 2 3; do
  run "train-thermometer deterministic -np $P" $P "${TH[@]}" --reduction deterministic --reduction-block 7 -o "$T/td$P.h5"
  same "train-thermometer deterministic -np $P vs one process" "$T/td.h5" "$T/td$P.h5" "${TH_ARR[@]}"
  if grep -v '^wrote' "$T/out" | cmp -s - "$T/td.txt"; then ok; else bad "train-thermometer -np $P: another table"; fi
done
run "train-thermometer fast -np 1" 1 "${TH[@]}" -q -o "$T/tf1.h5"
same "train-thermometer fast -np 1 vs serial" "$T/t.h5" "$T/tf1.h5" "${TH_ARR[@]}"
# fast on 2 processes: the parts' gradients are added in another order. With
# momentum SGD (not Adam, whose step m/sqrt(v) can turn the rounding of a
# near-zero gradient entry into a step of order lr): 3 epochs of 8 minibatches
# = 24 updates; a gradient entry is a mean of 50 terms of size <= 1 rounded with
# relative error <~ 50·2^-24 = 3e-6; momentum 0.9 makes a step at most 10 times
# lr = 0.05 times the gradient, so the sums move a weight by <~ 1.5e-6 per
# update, 24 updates: 4e-5; allow 1e-4. A missing or doubled part changes the
# gradient by O(1) relative, a weight by ~lr = 0.05 per update.
TM=(train-thermometer "$T/d.h5" --hidden 16 --epochs 3 --batch 50 --seed 2 --threads 1 --augment-flip -q)
"$K" "${TM[@]}" -o "$T/tm.h5" || bad "serial train-thermometer, momentum"
run "train-thermometer fast -np 2" 2 "${TM[@]}" -o "$T/tf2.h5"
if /usr/bin/python3 -c "import numpy" 2>/dev/null; then
  rm -rf "$T/xa" "$T/xb"
  "$K" export "$T/tm.h5" --npy "$T/xa" -q 2>/dev/null; "$K" export "$T/tf2.h5" --npy "$T/xb" -q 2>/dev/null
  if /usr/bin/python3 - "$T/xa" "$T/xb" <<'EOF'
import sys, numpy as np
a, b = sys.argv[1], sys.argv[2]
worst = max(float(np.abs(np.load(f"{a}/{x}.npy").astype(np.float64) - np.load(f"{b}/{x}.npy")).max())
            for x in ("layer1.weights", "layer1.bias", "layer2.weights", "layer2.bias"))
print(f"train-thermometer fast -np 2: max |difference| from one process {worst:.3g}")
sys.exit(0 if worst < 1e-4 else 1)
EOF
  then ok; else bad "train-thermometer fast -np 2 differs from one process by more than 1e-4"; fi
fi
# interrupted on 2 processes (SIGTERM to mpirun while they run, term_mpirun):
# rank 0 writes the checkpoint; resumed on 3 processes it is the uninterrupted run
TI=(train-thermometer "$T/d.h5" --hidden 16 --epochs 6000 --val 0 --batch 50 --seed 2 --threads 1 -q
    --reduction deterministic)
"$K" "${TI[@]}" -o "$T/ti.h5" || bad "train-thermometer: uninterrupted run"
if term_mpirun "$T/ti2.h5" 2 "${TI[@]}" && grep -q "epochs are done and saved" "$T/err"; then ok
  mismatch_resume "train-thermometer" "$T/ti2.h5" "another seed" "${TI[@]}"
  run "train-thermometer: -np 2 checkpoint resumed on 3" 3 "${TI[@]}" --resume -o "$T/ti2.h5"
  same "train-thermometer interrupted at P = 2, resumed at P = 3" "$T/ti.h5" "$T/ti2.h5" "${TH_ARR[@]}"
else bad "train-thermometer -np 2 interrupted: $(ls "$T"/ti2.h5* 2>&1)"; sed 's/^/  | /' "$T/err" | head -5; fi

# ---- failures ----------------------------------------------------------------------
# rank 1 cannot open its input (an MPMD launch gives it another path): rank 0
# names the rank and the file, every process exits 1, no model is written
"${MR[@]}" -np 1 "$K" train-rbm "$T/d.h5" --hidden 4 --epochs 1 -q -o "$T/f.h5" : \
  -np 1 "$K" train-rbm "$T/missing.h5" --hidden 4 --epochs 1 -q -o "$T/f.h5" >"$T/out" 2>"$T/err"
st=$?
if [ $st = 1 ] && grep -q "MPI rank 1: .*missing.h5: cannot open" "$T/err" && [ ! -e "$T/f.h5" ]; then ok
else bad "rank 1 without input: status $st"; sed 's/^/  | /' "$T/err" | head -5; fi
# flow: rank 1 cannot read its model; rank 0 reports it, no flow is written
"${MR[@]}" -np 1 "$K" flow --rbm "$T/fr.h5" --steps 2 --chains 10 -q -o "$T/ff.h5" : \
  -np 1 "$K" flow --rbm "$T/missing.h5" --steps 2 --chains 10 -q -o "$T/ff.h5" >"$T/out" 2>"$T/err"
st=$?
if [ $st = 1 ] && grep -q "MPI rank 1: .*missing.h5" "$T/err" && [ ! -e "$T/ff.h5" ]; then ok
else bad "flow, rank 1 without model: status $st"; sed 's/^/  | /' "$T/err" | head -5; fi
# the output cannot be written: refused before sampling, by rank 0, for all
"${MR[@]}" -np 2 "$K" sample -L 4 --temps 1 -n 5 -q -o "$T/nodir/x.h5" >"$T/out" 2>"$T/err"
st=$?
if [ $st = 1 ] && grep -q "cannot write '$T/nodir/x.h5'" "$T/err" && [ "$(grep -c "cannot write" "$T/err")" = 1 ]; then ok
else bad "unwritable output: status $st"; sed 's/^/  | /' "$T/err" | head -5; fi
# a rank dies (SIGKILL after 2 s) in a long training: the job stops, nothing is written
"${MR[@]}" -np 1 "$K" train-rbm "$T/d.h5" --hidden 16 --epochs 100000 --monitor-every 0 --threads 1 -q -o "$T/k.h5" : \
  -np 1 timeout -s KILL 2 "$K" train-rbm "$T/d.h5" --hidden 16 --epochs 100000 --monitor-every 0 --threads 1 -q -o "$T/k.h5" \
  >"$T/out" 2>"$T/err"
st=$?
if [ $st != 0 ] && [ ! -e "$T/k.h5" ]; then ok; else bad "dead rank: status $st, k.h5 $(ls "$T"/k.h5* 2>&1)"; fi
# train-thermometer: rank 1 cannot read its data; rank 0 reports it, no model is written
"${MR[@]}" -np 1 "$K" train-thermometer "$T/d.h5" --epochs 1 -q -o "$T/ft.h5" : \
  -np 1 "$K" train-thermometer "$T/missing.h5" --epochs 1 -q -o "$T/ft.h5" >"$T/out" 2>"$T/err"
st=$?
if [ $st = 1 ] && grep -q "MPI rank 1: .*missing.h5" "$T/err" && [ ! -e "$T/ft.h5" ]; then ok
else bad "train-thermometer, rank 1 without data: status $st"; sed 's/^/  | /' "$T/err" | head -5; fi
# reproduce over 2 processes: the same commands (commands.sh) as one process,
# the same sampled data, the same flows where the model does not depend on the
# training's reduction order (the untrained control h100-random), the rank-0
# stages (analyze) and the report done; --resume skips every stage; an
# unusable output directory stops every process with one message.
mkdir -p "$T/r1" "$T/r2"
(cd "$T/r1" && "$K" reproduce iso2018 --quick -q -o rep >"$T/out" 2>"$T/err") || bad "reproduce on 1 process"
cd "$T/r2" || exit 1 # relative paths: commands.sh must not differ by the directory
run "reproduce on 2 processes" 2 reproduce iso2018 --quick -q -o rep
if cmp -s "$T/r1/rep/commands.sh" "$T/r2/rep/commands.sh"; then ok; else bad "reproduce: commands.sh differs for P = 2"; fi
same "reproduce P=2 data" "$T/r1/rep/data.h5" "$T/r2/rep/data.h5" spins energy
same "reproduce P=2 data T=0,inf" "$T/r1/rep/data-0-inf.h5" "$T/r2/rep/data-0-inf.h5" spins
same "reproduce P=2 untrained model" "$T/r1/rep/rbm-h100-random.h5" "$T/r2/rep/rbm-h100-random.h5" W
same "reproduce P=2 flow of the untrained model" "$T/r1/rep/flow-h100-random-random.h5" \
  "$T/r2/rep/flow-h100-random-random.h5" spins
for f in report.md report.html weights/report.md; do
  if [ -s "$T/r2/rep/$f" ]; then ok; else bad "reproduce on 2 processes: no $f"; fi
done
if [ "$(wc -l <"$T/r2/rep/stages.done")" = "$(grep -c '^kadanoff ' "$T/r2/rep/commands.sh")" ]; then ok
else bad "reproduce on 2 processes: stages.done does not list every stage"; fi
run "reproduce --resume on 2 processes" 2 reproduce iso2018 --quick --resume -o rep
cd - >/dev/null || exit 1
if [ "$(grep -c 'done earlier, skipped' "$T/err")" = "$(wc -l <"$T/r2/rep/stages.done")" ]; then ok
else bad "reproduce --resume on 2 processes: not every stage skipped"; sed 's/^/  | /' "$T/err" | head -5; fi
touch "$T/plain"
"${MR[@]}" -np 2 "$K" reproduce iso2018 --quick -q -o "$T/plain/rep" >"$T/out" 2>"$T/err"
st=$?
if [ $st = 1 ] && grep -q "$T/plain/rep" "$T/err" && [ "$(grep -c 'error' "$T/err")" -le 2 ]; then ok
else bad "reproduce into an unusable directory on 2 processes: status $st"; sed 's/^/  | /' "$T/err" | head -5; fi
# a command that does not split its work refuses to run on several processes
"${MR[@]}" -np 2 "$K" info "$T/d.h5" >"$T/out" 2>"$T/err"
st=$?
if [ $st = 2 ] && grep -q "this command runs on one" "$T/err"; then ok; else bad "info on 2 processes: status $st"; fi
ls "$T"/*.tmp.* >/dev/null 2>&1 && bad "temporary files left: $(ls "$T"/*.tmp.*)" || ok

echo "$pass passed, $fail failed"
[ $fail = 0 ]
