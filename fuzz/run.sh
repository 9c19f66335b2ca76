#!/usr/bin/env bash
# Run every libFuzzer target of a -DKADANOFF_FUZZ=ON build for a bounded time,
# from a seed corpus written by kadanoff itself (fuzz/make-corpus.sh).
# Usage: fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET] [TARGET...]
#   (default 60 s; targets: dataset model thermometer flow h5_generic text)
#
# libFuzzer runs in fork mode (-fork=1) so that one finding does not end the
# campaign: every crash, leak, timeout or oracle failure is saved under
# BUILD_DIR/fuzz-artifacts/ and, at the end, replayed and triaged:
#   - the first stack frame outside the sanitizer/libc/libFuzzer runtime is in
#     libhdf5 -> "libhdf5 defect": listed with its input and stack, not a
#     failure of kadanoff (docs/reliability.md lists the known ones);
#   - anything else (our code, an oracle of fuzz_common.h) -> failure.
# Prints one summary line per target (executions, exec/s, corpus size,
# findings) and keeps them in BUILD_DIR/fuzz-summary.txt. Exit status 1 if
# any finding is kadanoff's own.
set -uo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:?usage: fuzz/run.sh BUILD_DIR [SECONDS] [TARGET...]}
B=$(cd "$B" && pwd)
S=${2:-60}
shift $(($# >= 2 ? 2 : $#))
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(dataset model thermometer flow h5_generic text)

seeds=$B/fuzz-seeds
if [ ! -d "$seeds/dataset" ] || [ "$SRC/fuzz/make-corpus.sh" -nt "$seeds" ]; then
    rm -rf "$seeds"
    bash "$SRC/fuzz/make-corpus.sh" "$B/kadanoff" "$seeds" || { echo "fuzz: seed corpus failed" >&2; exit 1; }
fi
mkdir -p "$B/fuzz-artifacts" "$B/fuzz-corpus" "$B/fuzz-logs"
# allocator_may_return_null=1: a damaged size field makes libhdf5 ask for
# absurd amounts; outside ASan malloc returns NULL and HDF5 reports an error,
# so let the fuzz runs see that same behaviour rather than an ASan abort.
# (libFuzzer's -malloc_limit_mb, = -rss_limit_mb, still reports any single
# allocation above 2 GB as a finding, ours or libhdf5's.)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$SRC/fuzz/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# A normal execution takes 5-200 ms even on a loaded machine; 10 s is a hang.
FUZZ_FLAGS=(-timeout=10 -rss_limit_mb=2048)

# shellcheck source=fuzz/triage.sh
. "$SRC/fuzz/triage.sh"

summary=$B/fuzz-summary.txt
: > "$summary"
status=0
printf '%-12s %10s %7s %7s  %s\n' target execs exec/s corpus findings | tee -a "$summary"
for t in "${targets[@]}"; do
    exe=$B/fuzz/fuzz_$t
    [ -x "$exe" ] || { echo "fuzz: $exe missing (build target 'fuzzers')" >&2; status=1; continue; }
    work=$B/fuzz-corpus/$t
    mkdir -p "$work"
    rm -f "$B/fuzz-artifacts/$t"-*
    dict=()
    [ "$t" != text ] && dict=(-dict="$SRC/fuzz/kadanoff.dict")
    log=$B/fuzz-logs/$t.log
    "$exe" "$work" "$seeds/$t" "${dict[@]}" "${FUZZ_FLAGS[@]}" -max_total_time="$S" \
        -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -artifact_prefix="$B/fuzz-artifacts/$t-" > "$log" 2>&1
    last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
    execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
    rate=$(sed -nE 's/.*exec\/s ([0-9]+).*/\1/p' <<<"$last")
    corpus=$(find "$work" -type f | wc -l)
    findings=""
    # In fork mode libFuzzer's exit status is that of its last job (70 after a
    # timeout even with -ignore_timeouts), so success is judged from the
    # findings below; no statistics at all means it did not run.
    [ -z "$last" ] && { findings="libFuzzer did not run (log: $log); "; status=1; }
    for a in "$B/fuzz-artifacts/$t"-*; do
        [ -e "$a" ] || continue
        replay=$a.replay.txt
        "$exe" "${FUZZ_FLAGS[@]}" "$a" > "$replay" 2>&1
        IFS=$'\t' read -r verdict kind where < <(fuzz_triage "$replay")
        if [ "$verdict" = unattributed ]; then
            # RSS over the limit: the report lists live allocations, not the
            # culprit. Replay with a per-allocation limit far below it (a
            # seed-corpus input needs a few MB; kadanoff's readers allocate
            # no more than the file's own size justifies), so that a single
            # large allocation, if there is one, is reported with its stack.
            "$exe" "${FUZZ_FLAGS[@]}" -malloc_limit_mb=256 "$a" > "$replay.256" 2>&1
            IFS=$'\t' read -r verdict kind where < <(fuzz_triage "$replay.256")
            [ "$verdict" = unattributed ] || where="$where [an allocation over 256 MB, $(basename "$replay").256]"
        fi
        case $verdict in
            slow) # the campaign's kind (crash, timeout, oom, leak) is in the artifact's name
                k=$(basename "$a"); k=${k#"$t"-}; k=${k%%-*}
                findings+="not reproduced on replay: $(basename "$a") (a $k in the campaign; alone it ran cleanly in $where); " ;;
            libhdf5) findings+="libhdf5 defect: $kind $(basename "$a") at $where; " ;;
            unattributed) findings+="out-of-memory with no single large allocation (RSS $where): $(basename "$a"); " ;;
            *) findings+="KADANOFF: $kind $(basename "$a") at $where; "; status=1 ;;
        esac
    done
    printf '%-12s %10s %7s %7s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$corpus" "${findings:-none}" | tee -a "$summary"
done
echo "fuzz: details in $B/fuzz-logs/, findings and their replays in $B/fuzz-artifacts/" >&2
exit $status
