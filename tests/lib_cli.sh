# Shared helpers of the tests/cli_*.sh scripts (source it; not a test itself:
# tests/CMakeLists.txt runs only cli_*.sh). Expects $K (the CLI) set; creates
# $T, a temporary directory removed at exit, and the counters pass/fail that
# lib_cli_done reports.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0 skipped=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
check() { # check NAME EXPECTED_STATUS PATTERN -- command...  (output kept in $T/last)
  local name=$1 want=$2 pat=$3; shift 4
  "$@" >"$T/out" 2>"$T/err"; local got=$?
  cp "$T/out" "$T/last"
  if [ "$got" = "$want" ] && grep -qE -- "$pat" "$T/out" "$T/err"; then ok
  else bad "$name: status $got (want $want), pattern '$pat'"; sed 's/^/  | /' "$T/err" "$T/out" | head -8; fi
}
expect() { # expect NAME COMMAND...: the command succeeds
  local name=$1; shift
  if "$@"; then ok; else bad "$name"; fi
}
has() { # has NAME PATTERN: the standard output of the last check matches
  if grep -qE -- "$2" "$T/last"; then ok; else bad "$1: no '$2' in the output"; fi
}
nofile() { # nofile NAME PATH...: none of the paths exists
  local name=$1; shift
  if ls "$@" >/dev/null 2>&1; then bad "$name: left $*"; else ok; fi
}
same() { # same NAME FILE1 FILE2: the files are identical
  if cmp -s "$2" "$3"; then ok; else bad "$1: $2 and $3 differ"; fi
}
skip() { skipped=$((skipped+1)); echo "skip: $*"; }
run() { # run COMMAND...: exit status in $rc, stdout in $T/out, stderr in $T/err
  "$@" >"$T/out" 2>"$T/err"; rc=$?
}
# after run: the exit status is exactly $1 (so not a crash: signals give 128+n)
status_is() { [ "$rc" -eq "$1" ]; }
err_has() { grep -qF -- "$1" "$T/err"; }
out_has() { grep -qF -- "$1" "$T/out"; }
no_temp_files() { [ -z "$(find "$1" -name '*.tmp*' 2>/dev/null)" ]; }
lib_cli_done() { # the "N passed, N failed[, N skipped]" line; exit status 1 on any failure
  echo "$pass passed, $fail failed$([ "$skipped" -gt 0 ] && echo ", $skipped skipped")"
  [ "$fail" -eq 0 ]
}
