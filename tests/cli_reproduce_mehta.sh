#!/usr/bin/env bash
# `kadanoff reproduce mehta2014 --quick` end to end: exit status, the report and
# every figure it references (PNG + data + script), no external requests in the
# HTML, the energy check against Kaufman, and the issue's locality acceptance at
# reduced size: layer-1 receptive fields well below the uniform-field R_g.
set -u
K=$(realpath "${1:?usage: cli_reproduce_mehta.sh path/to/kadanoff}")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }

cd "$T"
"$K" reproduce mehta2014 --quick -o out --seed 2 >stdout 2>stderr; st=$?
ok "reproduce exits 0 (got $st)" '[ $st = 0 ]'
[ $st = 0 ] || sed 's/^/  | /' stderr | tail -5
ok "report.html and report.md written" '[ -s out/report.html ] && [ -s out/report.md ]'
ok "no http(s) references in report.html" '[ -s out/report.html ] && ! grep -qiE "https?:" out/report.html'
ok "no external requests in report.html" '[ -s out/report.html ] && ! grep -qiE "(src|href)=\"?(https?:)?//" out/report.html'
ok "figures embedded in the HTML" 'grep -q "data:image/png;base64," out/report.html'
figs=$(grep -o 'figures/[A-Za-z0-9_.-]*\.png' out/report.md | sort -u)
ok "report references the 6 figures ($(echo $figs | wc -w))" '[ "$(echo $figs | wc -w)" -ge 6 ]'
for f in $figs; do
  b=out/${f%.png}
  ok "figure $f has PNG, data and script" '[ -s "$b.png" ] && [ -s "$b.dat" ] && [ -s "$b.gp" ] && head -c 8 "$b.png" | od -An -c | grep -q "P   N   G"'
done
ok "stage outputs written" '[ -s out/data.h5 ] && [ -s out/dbn.h5 ] && [ -s out/decimation.tsv ] && [ -s out/commands.sh ]'
ok "commands.sh lists only kadanoff commands" '! grep -vE "^(#|set -e|kadanoff |$)" out/commands.sh | grep -q .'

line=$(grep -o 'rg_mean_level1=[^`]*' out/report.md)
val() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
rg1=$(val rg_mean_level1); core1=$(val rg_core_level1); uni=$(val rg_uniform); es=$(val e_sigma)
echo "layer-1 R_g mean $rg1, core $core1, uniform $uni, e deviation $es sigma"
ok "machine-readable locality line present" '[ -n "$rg1" ] && [ -n "$core1" ] && [ -n "$uni" ]'
ok "<e> within 4 sigma of Kaufman's exact value" 'awk -v s="$es" "BEGIN{exit !(s+0 < 4 && s+0 > -4)}"'
ok "layer-1 mean R_g below the uniform value" 'awk -v a="$rg1" -v u="$uni" "BEGIN{exit !(a+0 < 0.9*u)}"'
ok "layer-1 core R_g well below the uniform value (< 0.5)" 'awk -v a="$core1" -v u="$uni" "BEGIN{exit !(a+0 < 0.5*u)}"'
ok "locality table has a row per level" '[ "$(grep -cE "^\| level [123] \|" out/report.md)" = 3 ]'
ok "decimation rows: K traced = formula to 1e-12" '[ "$(grep -cE "^\| [1-5] \| " out/report.md)" -ge 5 ] && ! grep -E "^\| [1-5] \| [0-9.e+-]+ \| [0-9.e+-]+ \| [0-9.e+-]+ \| -?[0-9.]+e-(0[0-9]|1[01]) " out/report.md | grep -q .'
ok "stdout has the summary" 'grep -q "R_g(1) < R_g(2) < R_g(3)" stdout'

echo "$pass passed, $fail failed"
[ $fail = 0 ]
