#!/usr/bin/env bash
# `kadanoff reproduce iso2018 --quick` end to end: exit status, the report and
# every figure it references (PNG + data + script), no external requests in the
# HTML, a fixed-point row for every flow, and commands.sh really reproducing a
# stage (the data set regenerated from its recorded command is identical).
set -u
K=$(realpath "${1:?usage: cli_reproduce.sh path/to/kadanoff}")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }

cd "$T"
"$K" reproduce iso2018 --quick -o out --seed 3 >stdout 2>stderr; st=$?
ok "reproduce exits 0 (got $st)" '[ $st = 0 ]'
[ $st = 0 ] || sed 's/^/  | /' stderr | tail -5
ok "report.html and report.md written" '[ -s out/report.html ] && [ -s out/report.md ]'
ok "no external requests in report.html" '[ -s out/report.html ] && ! grep -qiE "(src|href)=\"?(https?:)?//" out/report.html'
ok "figures embedded in the HTML" 'grep -q "data:image/png;base64," out/report.html'
figs=$(grep -o 'figures/[A-Za-z0-9_.-]*\.png' out/report.md | sort -u)
ok "report references figures" '[ -n "$figs" ]'
for f in $figs; do
  b=out/${f%.png}
  ok "figure $f has PNG, data and script" '[ -s "$b.png" ] && [ -s "$b.dat" ] && [ -s "$b.gp" ] && head -c 8 "$b.png" | od -An -c | grep -q "P   N   G"'
done
nflows=$(ls out/flow-*.h5 | wc -l)
rows=$(grep -cE '^\| .* \| (up|random|data T = [0-9.]+) \|' out/report.md)
ok "one summary row per flow ($nflows flows, $rows rows)" '[ "$nflows" -gt 0 ] && [ "$rows" = "$nflows" ]'
ok "stdout has the summary table" 'grep -q "T\* thermometer" stdout'
ok "commands.sh lists only kadanoff commands" '[ -s out/commands.sh ] && ! grep -vE "^(#|set -e|kadanoff )" out/commands.sh | grep -q .'
# rerun the first recorded stage (the data set) and compare the spins
cmd=$(grep -m1 '^kadanoff sample' out/commands.sh | sed "s|^kadanoff |\"$K\" |; s|-o out/data.h5|-o again.h5|")
eval "$cmd" >/dev/null 2>&1
"$K" export out/data.h5 --npy n1 >/dev/null 2>&1 && "$K" export again.h5 --npy n2 >/dev/null 2>&1
ok "the recorded sample command reproduces data.h5 spins" 'cmp -s n1/spins.npy n2/spins.npy'
# the weight analysis stage wrote its report
ok "weights/report.html written" '[ -s out/weights/report.html ]'

echo "$pass passed, $fail failed"
[ $fail = 0 ]
