#!/usr/bin/env bash
# Valgrind memcheck over a representative subset of the tests: the file
# readers and writers (test_io, test_rbm_file, test_malformed: datasets, RBM
# and DBN models, thermometers, flows, damaged files of each) and one small
# end-to-end CLI pipeline (sample -> train-rbm -> generate -> train-thermometer
# -> measure -> info -> export). The training-heavy test programs are left to
# ASan: under valgrind test_nn alone takes over 5 minutes on a 2-core machine. ASan (make asan-test)
# covers the whole suite; valgrind adds a second opinion that needs no
# recompilation and sees uninitialised reads, which ASan does not.
# Usage: scripts/valgrind-subset.sh [BUILD_DIR]   (default build; needs valgrind)
# Exit status 1 if any run reports a memory error, a definite leak, or fails.
set -uo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-build}" && pwd)
command -v valgrind >/dev/null || { echo "valgrind-subset: valgrind not installed (apt-get install valgrind)" >&2; exit 1; }
# One thread: OpenMP/OpenBLAS worker pools only add noise ("possibly lost"
# thread stacks) and time. Definite leaks are errors; "possibly lost" and
# "still reachable" (library caches freed at exit or never) are not.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export KADANOFF_CLI=$B/kadanoff KADANOFF_SOURCE_DIR=$SRC
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --track-origins=yes --num-callers=30)
W=$(mktemp -d "${TMPDIR:-/tmp}/kd_valgrind.XXXXXX")
trap 'rm -rf "$W"' EXIT
status=0
run() { # run NAME COMMAND...
    local name=$1 start=$SECONDS
    shift
    "${VG[@]}" "$@" >"$W/$name.out" 2>"$W/$name.err"
    local rc=$?
    if [ $rc -eq 0 ]; then
        echo "valgrind: ok   $name ($((SECONDS - start)) s)"
    else
        status=1
        echo "valgrind: FAIL $name (exit $rc$([ $rc -eq 99 ] && echo ': memcheck errors'))"
        tail -40 "$W/$name.err" | sed 's/^/  | /'
    fi
}
for t in test_malformed test_io test_rbm_file; do
    run "$t" "$B/tests/$t"
done
K=$B/kadanoff
q=(-q --threads 1 --seed 1)
run "cli sample" "$K" sample -L 4 --temps 1,2 -n 20 --burn-in 5 --interval 1 "${q[@]}" -o "$W/d.h5"
run "cli train-rbm" "$K" train-rbm "$W/d.h5" --hidden 3 --epochs 2 --batch 10 "${q[@]}" -o "$W/r.h5"
run "cli generate" "$K" generate "$W/r.h5" -n 4 "${q[@]}" -o "$W/g.h5"
run "cli train-thermometer" "$K" train-thermometer "$W/d.h5" --hidden 4 --epochs 1 --batch 10 \
    "${q[@]}" -o "$W/th.h5"
run "cli measure" "$K" measure "$W/g.h5" --thermometer "$W/th.h5" -q
run "cli info" "$K" info "$W/r.h5"
run "cli export" "$K" export "$W/d.h5" --npy "$W/npy" -q
exit $status
