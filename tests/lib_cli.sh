# Shared helpers of the tests/cli_*.sh scripts (source it; not a test itself:
# tests/CMakeLists.txt runs only cli_*.sh). Expects $K (the CLI) set; creates
# $T, a temporary directory removed at exit, and the counters pass/fail that
# lib_cli_done reports.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
check() { # check NAME EXPECTED_STATUS PATTERN -- command...
  local name=$1 want=$2 pat=$3; shift 4
  "$@" >"$T/out" 2>"$T/err"; local got=$?
  if [ "$got" = "$want" ] && grep -qE -- "$pat" "$T/out" "$T/err"; then ok
  else bad "$name: status $got (want $want), pattern '$pat'"; sed 's/^/  | /' "$T/err" | head -5; fi
}
lib_cli_done() { # the "N passed, N failed" line; exit status 1 on any failure
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
