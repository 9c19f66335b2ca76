#!/usr/bin/env bash
# fuzz/triage.sh decides whether a fuzzing finding is kadanoff's (CI fails) or
# libhdf5's (listed, CI passes). Checked here on stacks in the form ASan and
# libFuzzer print them (frames shortened to the fields the triage reads), so
# that a misclassification is caught by `make test`, not by a red CI run.
# Stacks marked "real" are cut from replays of actual campaigns. The strdup
# case stands for a CI finding that the previous rule blamed on kadanoff: its
# summary named only the first frame, ASan's strdup interceptor in the fuzz
# binary; no kadanoff code calls strdup, and libhdf5 duplicates names it
# decodes from the file (H5MM_xstrdup), so the caller was libhdf5's.
K=${1:-}
SRC=${KADANOFF_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$SRC/tests/lib_cli.sh"
. "$SRC/fuzz/triage.sh"

verdict() { # verdict NAME EXPECTED_VERDICT EXPECTED_WHERE_PATTERN < replay text
  local name=$1 want=$2 pat=$3 got kind where
  cat > "$T/replay"
  IFS=$'\t' read -r got kind where < <(fuzz_triage "$T/replay")
  if [ "$got" = "$want" ] && grep -qE -- "$pat" <<<"$where"; then ok
  else bad "$name: verdict '$got' at '$where' (want '$want' at /$pat/)"; fi
}
BIN=/ci/build-fuzz/fuzz/fuzz_flow
H5=/lib/x86_64-linux-gnu/libhdf5_serial.so.103

verdict "global-heap overlap (real)" libhdf5 'H5HG_read' <<EOF2
==9144==ERROR: AddressSanitizer: memcpy-param-overlap: memory ranges [0x6210,0x1006) and [0x6210, 0x1006) overlap
    #0 0x561840d5c695 in __interceptor_memcpy ($BIN+0xa6695) (BuildId: cb44)
    #1 0x7fe5feb67b8d in H5HG_read ($H5+0x167b8d) (BuildId: e923)
    #2 0x7fe5fec4d924 in H5T__conv_vlen ($H5+0x24d924) (BuildId: e923)
    #3 0x7fe5fea58cf5 in H5Aread ($H5+0x58cf5) (BuildId: e923)
    #4 0x561840e17639 in read_string /ci/src/io/h5.c:1142:13
EOF2

verdict "hang in libhdf5 (real)" libhdf5 'libhdf5' <<EOF2
==1==ERROR: libFuzzer: timeout after 10 seconds
    #0 0x5635ac9f8a11 in __sanitizer_print_stack_trace ($BIN+0xf2a11) (BuildId: cb44)
    #1 0x5635ac96c7c8 in fuzzer::PrintStackTrace() ($BIN+0x667c8) (BuildId: cb44)
    #2 0x7f41df65af8f  (/lib/x86_64-linux-gnu/libc.so.6+0x3bf8f) (BuildId: 4f43)
    #3 0x7f41df9a9a4f  ($H5+0x169a4f) (BuildId: e923)
    #4 0x561840e17639 in read_string /ci/src/io/h5.c:1142:13
EOF2

verdict "libhdf5 strdup of an unterminated name" libhdf5 'H5MM_xstrdup' <<EOF2
==7==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6020 at pc 0x55 bp 0x7f sp 0x7f
READ of size 9 at 0x6020 thread T0
    #0 0x55d5f0f9d95 in strdup ($BIN+0xf9d95) (BuildId: cb44)
    #1 0x7fe5fea01234 in H5MM_xstrdup ($H5+0x101234) (BuildId: e923)
    #2 0x7fe5fea61234 in H5O_attr_decode ($H5+0x61234) (BuildId: e923)
    #3 0x561840e17639 in read_attr_string_impl /ci/src/io/h5.c:1180:5
EOF2

verdict "our strdup misuse stays ours" kadanoff 'kd_flow_read' <<EOF2
==7==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6020 at pc 0x55 bp 0x7f sp 0x7f
    #0 0x55d5f0f9d95 in strdup ($BIN+0xf9d95) (BuildId: cb44)
    #1 0x561840e04b9e in kd_flow_read /ci/src/io/flow_file.c:212:12
    #2 0x7fe5fea58cf5 in H5Aread ($H5+0x58cf5) (BuildId: e923)
EOF2

# a kadanoff function whose name starts like a libc one: it has a source
# location, so it is not taken for an interceptor
verdict "our mem_type is not an interceptor" kadanoff 'mem_type' <<EOF2
==7==ERROR: AddressSanitizer: SEGV on unknown address 0x000000000000
    #0 0x561840e10101 in mem_type /ci/src/io/h5.c:101:16
    #1 0x7fe5fea58cf5 in H5Aread ($H5+0x58cf5) (BuildId: e923)
EOF2

verdict "overflow in our own code" kadanoff 'kd_h5_read_ints' <<EOF2
==7==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6020 at pc 0x55 bp 0x7f sp 0x7f
    #0 0x561840e11111 in kd_h5_read_ints /ci/src/io/h5.c:900:3
    #1 0x7fe5fea58cf5 in H5Dread ($H5+0x58cf5) (BuildId: e923)
EOF2

verdict "our memcpy via the plain-name interceptor" kadanoff 'dataset.c' <<EOF2
==7==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6020 at pc 0x55 bp 0x7f sp 0x7f
    #0 0x561840d5c695 in memcpy ($BIN+0xa6695) (BuildId: cb44)
    #1 0x561840e22222 in read_table /ci/src/io/dataset.c:240:9
EOF2

verdict "oracle failure inside a libhdf5 call" kadanoff '' <<EOF2
fuzz oracle failed: 2 HDF5 objects left open after kd_flow_read
    #0 0x7f41df645249 in abort (/lib/x86_64-linux-gnu/libc.so.6+0x26249)
    #1 0x7fe5fea58cf5 in H5Fget_obj_count ($H5+0x58cf5) (BuildId: e923)
EOF2

verdict "timeout not reproduced" slow '^35 ms$' <<EOF2
Running: /ci/build-fuzz/fuzz-artifacts/flow-timeout-2884
Executed /ci/build-fuzz/fuzz-artifacts/flow-timeout-2884 in 35 ms
EOF2

# An RSS out-of-memory report (real, shortened): the live allocations, the
# largest being libFuzzer's own input buffer (its main, C++ operator new), then
# libhdf5's 748 kB. Neither used the 2 GB: no culprit is named.
verdict "RSS out-of-memory (real)" unattributed 'used: 2125Mb' <<EOF2
==29544== ERROR: libFuzzer: out-of-memory (used: 2125Mb; limit: 2048Mb)
Live Heap Allocations: 25159903 bytes in 3173 chunks; showing top 95% (at most 8 unique contexts)
24121114 byte(s) (95%) in 9 allocation(s)
    #0 0x55afc172541e in malloc ($BIN+0x10f41e) (BuildId: 03d4)
    #1 0x7f6baa6a958b in operator new(unsigned long) (/lib/x86_64-linux-gnu/libstdc++.so.6+0xa958b) (BuildId: 289e)
    #2 0x55afc16a2692 in main ($BIN+0x8c692) (BuildId: 03d4)
    #3 0x7f6ba7445249 in __libc_start_call_main csu/../sysdeps/nptl/libc_start_call_main.h:58:16

747964 byte(s) (2%) in 1807 allocation(s)
    #0 0x55afc172541e in malloc ($BIN+0x10f41e) (BuildId: 03d4)
    #1 0x7f6ba7d233e4  ($H5+0x1233e4) (BuildId: e923)
EOF2

# The same input replayed with -malloc_limit_mb=256 (as run.sh does for
# unattributed OOM findings; real, shortened): libhdf5 allocates 1.9 GB for a damaged
# variable-length string.
verdict "large allocation in libhdf5 (real)" libhdf5 'H5FL_blk_malloc|libhdf5' <<EOF2
==32330== ERROR: libFuzzer: out-of-memory (malloc(1936748552))
    #0 0x5577a8388501 in __sanitizer_print_stack_trace ($BIN+0x119501) (BuildId: 03d4)
    #1 0x5577a82fae58 in fuzzer::PrintStackTrace() ($BIN+0x8be58) (BuildId: 03d4)
    #2 0x5577a82df965 in fuzzer::Fuzzer::HandleMalloc(unsigned long) ($BIN+0x70965) (BuildId: 03d4)
    #4 0x5577a838f987 in __sanitizer::RunMallocHooks(void const*, unsigned long) ($BIN+0x120987) (BuildId: 03d4)
    #6 0x5577a82fd9c3 in __asan::asan_malloc(unsigned long, __sanitizer::BufferedStackTrace*) ($BIN+0x8e9c3) (BuildId: 03d4)
    #7 0x5577a837e47d in malloc ($BIN+0x10f47d) (BuildId: 03d4)
    #8 0x7fb84c7233e4  ($H5+0x1233e4) (BuildId: e923)
    #9 0x7fb84c723af1 in H5FL_blk_malloc ($H5+0x123af1) (BuildId: e923)
    #13 0x7fb84c658cf5 in H5Aread ($H5+0x58cf5) (BuildId: e923)
    #14 0x5577a83d0639 in read_string /ci/src/io/h5.c:1142:13
EOF2

verdict "large allocation of ours" kadanoff 'kd_flow_read' <<EOF2
==32330== ERROR: libFuzzer: out-of-memory (malloc(1936748552))
    #2 0x5577a82df965 in fuzzer::Fuzzer::HandleMalloc(unsigned long) ($BIN+0x70965) (BuildId: 03d4)
    #7 0x5577a837e47d in malloc ($BIN+0x10f47d) (BuildId: 03d4)
    #8 0x5577a83d4d30 in kd_flow_read /ci/src/io/flow_file.c:200:5
EOF2

verdict "a crash without a stack is ours" kadanoff '' <<EOF2
==7==ERROR: AddressSanitizer: SEGV on unknown address 0x000000000000
EOF2

lib_cli_done
