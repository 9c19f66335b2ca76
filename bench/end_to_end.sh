#!/usr/bin/env bash
# End-to-end wall time of the reproductions, split by stage (from the stage
# table each report writes). Prints Markdown. Usage: end_to_end.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
K=$(realpath "$build/kadanoff")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
split() { # report.md -> "stage: seconds" per stage kind
  awk -F'|' '/^\| (data|thermometer|rbm|flow|weights|dbn|decimation|total)/ {
      gsub(/ /, "", $3); split($2, a, " "); t[a[1]] += $3; if (!(a[1] in seen)) { seen[a[1]] = 1; order[++n] = a[1] } }
    END { for (i = 1; i <= n; i++) printf "%s %.1f s; ", order[i], t[order[i]]; printf "\n" }' "$1"
}
echo "| run | wall time | stages |"
echo "|---|---|---|"
for study in iso2018 mehta2014; do
  for mode in --quick ""; do
    start=$(date +%s.%N)
    (cd "$tmp" && "$K" reproduce $study $mode -q -o "out-$study$mode")
    end=$(date +%s.%N)
    printf "| \`kadanoff reproduce %s %s\` | %.1f s | %s |\n" "$study" "$mode" \
      "$(awk -v a="$start" -v b="$end" 'BEGIN{print b - a}')" "$(split "$tmp/out-$study$mode/report.md")"
  done
done
