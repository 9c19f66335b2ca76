#!/usr/bin/env bash
# docs/cli.md must equal what scripts/gen-cli-doc.sh makes from the current --help texts.
set -u
K=${1:?usage: cli_docs.sh path/to/kadanoff}
src=${KADANOFF_SOURCE_DIR:?}
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.tmp"' EXIT
pass=0 fail=0
if bash "$src/scripts/gen-cli-doc.sh" "$K" "$tmp" && diff -u "$src/docs/cli.md" "$tmp" >/dev/null; then
  pass=1
else
  fail=1
  echo "FAIL: docs/cli.md is out of date; run: scripts/gen-cli-doc.sh $K"
  diff -u "$src/docs/cli.md" "$tmp" | head -20
fi
# every command's --help exits 0 and prints a Usage line
for c in $("$K" --help | awk '/^Commands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{exit}'); do
  if "$K" "$c" --help | grep -q "^Usage: kadanoff $c"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: kadanoff $c --help"; fi
done
echo "$pass passed, $fail failed"
[ $fail = 0 ]
