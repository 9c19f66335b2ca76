#!/usr/bin/env bash
# Strong and weak scaling of `kadanoff sample` and `kadanoff train-rbm` over
# P = 1, 2 MPI processes (one OpenMP thread each), on the MPI build.
# Usage: bench/mpi_scaling.sh [BUILD_DIR (default build-mpi)] [MAXP (default 2)]
# Prints a Markdown table: wall seconds (mpirun start-up included), speed-up
# S = t(1)/t(P) (strong) or efficiency t(1)/t(P) at P times the work (weak),
# and for sample the gather time reported by rank 0. Results in bench/RESULTS.md
# and docs/cluster.md; they are noisy on a shared machine.
set -euo pipefail
B=${1:-build-mpi}
MAXP=${2:-2}
K=$B/kadanoff
[ -x "$K" ] || { echo "mpi_scaling.sh: no $K; build with -DKADANOFF_MPI=ON (make mpi-test)" >&2; exit 1; }
MR=(mpirun --oversubscribe)
[ "$(id -u)" = 0 ] && MR+=(--allow-run-as-root)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

now() { date +%s.%N; }
# wall NP ARGS...: seconds of `mpirun -np NP kadanoff ARGS`, best of 2 runs
wall() {
  local np=$1 best="" t0 t1 s; shift
  for _ in 1 2; do
    t0=$(now)
    "${MR[@]}" -np "$np" "$K" "$@" >"$T/out" 2>"$T/err"
    t1=$(now)
    s=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$s < $best" | bc -l)" = 1 ]; then best=$s; fi
  done
  printf '%.2f' "$best"
}
temps() { # temps N: N temperatures from 1.5 upwards in steps of 0.1
  local n=$1 out="" i
  for ((i = 0; i < n; i++)); do out="$out${out:+,}$(echo "1.5 + 0.1 * $i" | bc -l | sed 's/0*$//')"; done
  echo "$out"
}
row() { printf '| %-40s | %2s | %8s | %8s | %s |\n' "$@"; }

echo "# kadanoff MPI scaling ($(date -u +%Y-%m-%d), $(nproc) cores, $(mpirun --version | head -1))"
echo
row "run" "P" "seconds" "S or eff" "note"
row "---" "--" "---" "---" "---"

# ---- start-up: mpirun + MPI_Init + a command that does nothing -----------------
for ((P = 1; P <= MAXP; P++)); do
  row "start-up (sample --help)" $P "$(wall $P sample --help)" "" "included in every row below"
done

# ---- sample: 8 temperatures x 2 chains, L = 48, Metropolis, fixed sweeps -------
# interval 25: about 5 s of Monte Carlo on one process, so that the start-up
# (first row) and the serial post-processing on rank 0 do not dominate
S=(sample -L 48 --algorithm metropolis --chains 2 -n 1200 --burn-in 200 --interval 25 --threads 1 -q --seed 1)
t1=""
for ((P = 1; P <= MAXP; P++)); do
  t=$(wall $P "${S[@]}" --temps "$(temps 8)" -o "$T/s.h5")
  g=$("${MR[@]}" -np $P "$K" "${S[@]}" --temps "$(temps 8)" -v -o "$T/s.h5" 2>&1 >/dev/null | sed -n 's/.*gathered \([0-9.]* MB\).* in \([0-9.]* s\)/gather \1 in \2/p')
  [ -z "$t1" ] && t1=$t
  row "sample strong (16 chains, L=48)" $P "$t" "$(echo "$t1 / $t" | bc -l | xargs printf '%.2f')" "${g:-}"
done
t1=""
for ((P = 1; P <= MAXP; P++)); do
  t=$(wall $P "${S[@]}" --temps "$(temps $((4 * P)))" -o "$T/s.h5")
  [ -z "$t1" ] && t1=$t
  row "sample weak (8 chains per process)" $P "$t" "$(echo "$t1 / $t" | bc -l | xargs printf '%.2f')" ""
done

# ---- train-rbm: L = 16 (nv = 256), nh = 128, CD-1 -------------------------------
"$K" sample -L 16 --temps "$(temps $((MAXP > 2 ? 4 * MAXP : 8)))" -n 1000 --threads 2 -q --seed 2 -o "$T/d.h5"
R=(train-rbm "$T/d.h5" --hidden 128 --epochs 40 --monitor-every 0 --lr 0.01 --threads 1 -q)
for mode in fast deterministic; do
  t1=""
  for ((P = 1; P <= MAXP; P++)); do
    t=$(wall $P "${R[@]}" --batch 200 --temps "$(temps 8)" --reduction $mode -o "$T/r.h5")
    [ -z "$t1" ] && t1=$t
    row "train-rbm strong ($mode, batch 200)" $P "$t" "$(echo "$t1 / $t" | bc -l | xargs printf '%.2f')" "8000 rows, 40 epochs"
  done
  t1=""
  for ((P = 1; P <= MAXP; P++)); do
    # P times the minibatch on P processes: the same rows per process and the
    # same number of updates per epoch as P = 1 (8000 rows / 100P per batch
    # would halve them: train on P·4000 rows instead, via --temps)
    t=$(wall $P "${R[@]}" --batch $((100 * P)) --temps "$(temps $((4 * P)))" --reduction $mode -o "$T/r.h5")
    [ -z "$t1" ] && t1=$t
    row "train-rbm weak ($mode, batch 100 per process)" $P "$t" "$(echo "$t1 / $t" | bc -l | xargs printf '%.2f')" "4000P rows, 40 epochs"
  done
done
