# Triage of one replayed libFuzzer finding; sourced by fuzz/run.sh and by
# tests/cli_fuzz_triage.sh (which checks it on real sanitizer stacks).
#
#   fuzz_triage REPLAY_LOG  ->  prints "VERDICT<TAB>KIND<TAB>WHERE"
#
# VERDICT is one of
#   kadanoff  our code (or a fuzz oracle of fuzz_common.h) is at fault: a failure;
#   libhdf5   the first stack frame that is neither the sanitizer, libFuzzer nor
#             libc lies in libhdf5: a defect of the library, listed, not a failure
#             (docs/reliability.md lists the known ones);
#   slow      a finding that did not recur when replayed alone: a slow input on a
#             loaded machine, or a crash that needs state left by the inputs
#             before it in the campaign's process (libhdf5 keeps caches and free
#             lists across files); reported with the campaign's kind, not a
#             failure;
#   unattributed  an out-of-memory report of the RSS kind (no "malloc(N)"): it
#             lists the live allocations, not what used the memory, so it
#             names no culprit; reported, not a failure (fuzz/run.sh replays
#             such findings with a per-allocation limit first).
# Anything that cannot be attributed (no stack at all) counts as kadanoff's.

# First stack frame of a replayed finding that is neither the sanitizer,
# libFuzzer, libc nor the fuzz harness's abort path. ASan's interceptors of the
# C string and memory functions may appear under the plain libc name, inside the
# fuzz binary itself ("in strdup (.../fuzz_flow+0x...)", probably libhdf5
# copying an unterminated name out of a damaged file): they are skipped like
# libc, so the frame that called them decides. They are recognised by the
# module in parentheses right after the name: a frame of kadanoff's own code
# carries its source location instead ("in mem_type /src/io/h5.c:101:16"), so
# a kadanoff function named str* or mem* still counts. libFuzzer's own driver
# (its main, its C++ runtime: kadanoff has no C++) is runtime too.
fuzz_first_frame() {
    grep -E '^ *#[0-9]+ 0x' "$1" |
        grep -vE '__sanitizer|__asan|__interceptor|__lsan|__ubsan|fuzzer::|__Fuzzer::|libc\.so|libstdc\+\+\.so|sysdeps/|libclang_rt| in main \(| in _*(mem|str)[a-z_0-9]* \(| in (abort|raise|malloc|calloc|realloc|free) \(' |
        head -1
}

fuzz_triage() {
    local replay=$1 kind frame where ms
    kind=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer): [A-Za-z-]+|fuzz oracle failed|runtime error' "$replay")
    frame=$(fuzz_first_frame "$replay")
    where=$(sed -E 's/^ *#[0-9]+ 0x[0-9a-f]+ *//; s/ \(BuildId.*//' <<<"$frame")
    if [ "$kind" = "ERROR: libFuzzer: out-of-memory" ] && ! grep -q 'out-of-memory (malloc(' "$replay"; then
        printf 'unattributed\t%s\t%s\n' "$kind" "$(grep -m1 -oE 'used: [0-9]+Mb; limit: [0-9]+Mb' "$replay")"
    elif [ -z "$kind" ] && grep -qE '^Executed .* in [0-9]+ ms$' "$replay"; then
        ms=$(sed -nE 's/^Executed .* in ([0-9]+) ms$/\1/p' "$replay")
        printf 'slow\t-\t%s ms\n' "${ms:-?}"
    elif grep -q 'fuzz oracle failed' "$replay" || ! grep -q libhdf5 <<<"$frame"; then
        printf 'kadanoff\t%s\t%s\n' "${kind:-?}" "${where:-?}"
    else
        printf 'libhdf5\t%s\t%s\n' "${kind:-?}" "$where"
    fi
}
