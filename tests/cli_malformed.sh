#!/usr/bin/env bash
# CLI checks of damaged input files (issue 7): each command that reads a file
# exits with status 1 and a message naming the file, the object and what was
# expected, when one thing in an otherwise valid file is wrong. The files are
# written by kadanoff and damaged with h5py (skipped without it). The C-level
# cases, with the reasons, are in tests/test_malformed.c.
set -u
K=${1:?usage: cli_malformed.sh path/to/kadanoff}
PY=/usr/bin/python3
. "$(dirname "$0")/lib_cli.sh"
damage() { # damage SOURCE COPY CODE: $T/COPY = $T/SOURCE changed by h5py CODE on f
  cp "$T/$1" "$T/$2" && "$PY" -c "import h5py, numpy as np
f = h5py.File('$T/$2', 'r+')
$3
f.close()" || bad "damage $2"
}

q=(-q --threads 1 --seed 1)
"$K" sample -L 4 --temps 1,2 -n 20 --burn-in 5 --interval 1 "${q[@]}" -o "$T/d.h5" || bad "sample"
"$K" train-rbm "$T/d.h5" --hidden 3 --epochs 1 --batch 10 "${q[@]}" -o "$T/r.h5" || bad "train-rbm"
"$K" train-thermometer "$T/d.h5" --hidden 4 --epochs 1 --batch 10 "${q[@]}" -o "$T/th.h5" ||
  bad "train-thermometer"

# A range of tiny temperatures used to parse to NaN (tests/test_malformed.c):
# now the values themselves are reported as missing from the data.
check "tiny temperature range parsed" 1 "temperature 1e-300 of --temps does not occur" -- \
  "$K" train-rbm "$T/d.h5" --temps 1e-300:2e-300:1e-300 --hidden 2 "${q[@]}" -o "$T/never.h5"

if ! "$PY" -c 'import h5py' 2>/dev/null; then
  echo "skip: h5py not available, no damaged files"
else
  damage d.h5 sym.h5 "f.attrs['symmetrize'] = np.int64(7)"
  check "info: symmetrize 7" 1 "sym.h5: attribute 'symmetrize' is 7, expected 0 or 1" -- \
    "$K" info "$T/sym.h5"

  damage d.h5 spin.h5 "s = f['spins'][...]; s[3, 1, 2] = 3; f['spins'][...] = s"
  check "train-rbm: spin 3" 1 "spin.h5: dataset '/spins' has value 3 at configuration 3" -- \
    "$K" train-rbm "$T/spin.h5" --hidden 2 --epochs 1 "${q[@]}" -o "$T/never.h5"
  [ -e "$T/never.h5" ] && bad "train-rbm on a damaged file wrote a model" || ok

  damage d.h5 energy.h5 "e = f['energy'][...]; del f['energy']; t = h5py.h5t.IEEE_F64LE.copy(); t.set_ebias(1000); f.create_dataset('energy', data=e, dtype=h5py.Datatype(t))"
  check "info: float with a foreign bit layout" 1 \
    "energy.h5: dataset '/energy' has element type float64 \(non-standard bit layout\), expected float64" -- \
    "$K" info "$T/energy.h5"

  damage r.h5 nh.h5 "f.attrs['nh'] = np.int64(134217727)"
  check "generate: nh beyond the stored weights" 1 \
    "nh.h5: dataset '/W' has shape \(16, 3\), expected \(16, 134217727\)" -- \
    "$K" generate "$T/nh.h5" -n 2 "${q[@]}" -o "$T/never.h5"

  damage th.h5 wide.h5 "f.attrs['L'] = np.int64(16384); f.attrs['inputs'] = np.int64(16384**2); del f['hidden_sizes']; f['hidden_sizes'] = np.array([65536], dtype=np.int64)"
  check "measure: thermometer declaring 2^28 x 65536 weights" 1 \
    "wide.h5: dataset '/layer1/weights' has shape \(16, 4\), expected \(268435456, 65536\)" -- \
    "$K" measure "$T/d.h5" --thermometer "$T/wide.h5" -q

  damage r.h5 temps.h5 "del f['temperatures']; f['temperatures'] = np.array([-5.0, 2.0])"
  check "evaluate: negative training temperature" 1 \
    "temps.h5: dataset '/temperatures' has -5 at element 0, expected temperatures >= 0" -- \
    "$K" evaluate "$T/temps.h5" "$T/d.h5" "${q[@]}"
fi

lib_cli_done
