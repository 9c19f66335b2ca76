#!/usr/bin/env bash
# Seed corpus of the fuzz targets: small valid files written by kadanoff itself
# (so the fuzzer starts from every layout the readers accept), regenerated at
# fuzz time rather than committed.
# Usage: fuzz/make-corpus.sh /path/to/kadanoff OUTDIR
#   creates OUTDIR/<target>/ for dataset, model, thermometer, flow, h5_generic, text.
set -euo pipefail
KD=${1:?usage: make-corpus.sh /path/to/kadanoff OUTDIR}
OUT=${2:?usage: make-corpus.sh /path/to/kadanoff OUTDIR}
mkdir -p "$OUT"/{dataset,model,thermometer,flow,h5_generic,text}
W=$(mktemp -d "${TMPDIR:-/tmp}/kd_corpus.XXXXXX")
trap 'rm -rf "$W"' EXIT
q=(-q --threads 1 --seed 1)
# Tiny sizes: the readers' logic does not depend on the size, and small seeds
# keep every fuzz execution fast (HDF5 overhead dominates at these sizes).
"$KD" sample -L 4 --temps 1.5,inf -n 6 --burn-in 5 --interval 1 "${q[@]}" -o "$W/d_square.h5"
"$KD" sample --lattice chain --boundary open -L 8 --temps 0,2 -n 4 --burn-in 5 --interval 1 \
    --symmetrize "${q[@]}" -o "$W/d_chain.h5"
"$KD" sample -L 4 --temps 1,2,3,4 -n 40 --burn-in 5 --interval 1 "${q[@]}" -o "$W/d_train.h5"
"$KD" train-rbm "$W/d_train.h5" --hidden 3 --epochs 2 --batch 10 "${q[@]}" -o "$W/m_rbm.h5"
"$KD" train-rbm "$W/d_train.h5" --hidden 2 --epochs 1 --batch 10 --pcd 1 --adam --units binary \
    "${q[@]}" -o "$W/m_rbm_pcd_adam.h5"
"$KD" train-dbn "$W/d_train.h5" --layers 4,2 --epochs 1 --batch 10 "${q[@]}" -o "$W/m_dbn.h5"
"$KD" generate "$W/m_rbm.h5" -n 4 "${q[@]}" -o "$W/d_generated.h5"
"$KD" train-thermometer "$W/d_train.h5" --hidden 3 --epochs 2 --batch 10 "${q[@]}" -o "$W/t_thermo.h5"
"$KD" train-thermometer "$W/d_train.h5" --hidden none --epochs 1 --batch 10 --adam "${q[@]}" \
    -o "$W/t_thermo_adam.h5"
"$KD" flow --rbm "$W/m_rbm.h5" --steps 2 --chains 2 "${q[@]}" -o "$W/f_sample.h5"
"$KD" flow --rbm "$W/m_rbm.h5" --steps 2 --chains 2 --mean-field --thermometer "$W/t_thermo.h5" \
    "${q[@]}" -o "$W/f_meanfield.h5"
cp "$W"/d_*.h5 "$OUT/dataset/"
cp "$W"/m_*.h5 "$OUT/model/"
cp "$W"/t_*.h5 "$OUT/thermometer/"
cp "$W"/f_*.h5 "$OUT/flow/"
cp "$W"/*.h5 "$OUT/h5_generic/"
i=0
for t in '0:6:0.25' '1,2,inf' '2.269' '0.5:1:0.1,3,inf' 'inf' '1e-3:2e-3:1e-4' '0x1p1,1e2' \
         '1e-300:3e-300:1e-300' '5e-324,1.7e308'; do
    printf '%s' "$t" > "$OUT/text/seed$i"
    i=$((i + 1))
done
for name in chain square periodic open metropolis heatbath wolff multispin multispin-heatbath spin binary tanh relu \
            sigmoid momentum adam cd pcd sgd constant linear exponential mean sample gaussian zero; do
    printf '%s' "$name" > "$OUT/text/name_$name"
done
echo "make-corpus: $(find "$OUT" -type f | wc -l) seed files in $OUT" >&2
