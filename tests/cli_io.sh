#!/usr/bin/env bash
# CLI-level tests of `kadanoff info` and `kadanoff export`: good files (built
# with python3 + h5py, and with `kadanoff sample` when that works), foreign and
# damaged files, bad options, unwritable output. Checks exit codes (0/1/2),
# that messages name the file, that nothing crashes, and that a failed export
# leaves no partial output.
# Usage: cli_io.sh /path/to/kadanoff   (env KADANOFF_SOURCE_DIR is not needed)
set -u

KD=${1:?usage: cli_io.sh /path/to/kadanoff}
PY=/usr/bin/python3
. "$(dirname "$0")/lib_cli.sh"

# expect_fail STATUS PHRASE DESCRIPTION CMD...: fails with STATUS, stderr has PHRASE
expect_fail() {
    local want=$1 phrase=$2 what=$3
    shift 3
    run "$@"
    expect "$what: exit $want (got $rc)" status_is "$want"
    expect "$what: message says '$phrase'" err_has "$phrase"
    expect "$what: nothing on stdout" test ! -s "$T/out"
}

# ---- usage ------------------------------------------------------------------
for c in info export; do
    run "$KD" "$c" --help
    expect "$c --help: exit 0" status_is 0
    expect "$c --help: usage on stdout" out_has "Usage: kadanoff $c"
done
expect_fail 2 "no FILE given" "info without a file" "$KD" info
expect_fail 2 "unknown option '--bogus'" "info --bogus" "$KD" info --bogus x.h5
expect_fail 2 "unexpected argument" "info with two files" "$KD" info a.h5 b.h5
expect_fail 2 "no FILE given" "export without a file" "$KD" export --npy "$T/x"
expect_fail 2 "--npy DIR is required" "export without --npy" "$KD" export x.h5
expect_fail 2 "needs a value" "export --npy without a value" "$KD" export x.h5 --npy
expect_fail 2 "unknown option '--zip'" "export --zip" "$KD" export x.h5 --zip "$T/x"
expect "usage errors create no directory" test ! -e "$T/x"

# ---- files that are not kadanoff files ----------------------------------------------
missing="$T/missing.h5"
expect_fail 1 "$missing: cannot open" "info on a missing file" "$KD" info "$missing"
expect_fail 1 "$missing" "export of a missing file" "$KD" export "$missing" --npy "$T/x"
expect "failed export creates no directory" test ! -e "$T/x"

text="$T/notes.h5"
printf 'T,e\n1,-2\n' >"$text"
expect_fail 1 "$text: not an HDF5 file" "info on a text file" "$KD" info "$text"
expect_fail 1 "$text: not an HDF5 file" "export of a text file" "$KD" export "$text" --npy "$T/x"
expect "failed export creates no directory" test ! -e "$T/x"

empty="$T/empty.h5"
: >"$empty"
expect_fail 1 "$empty: file is empty" "info on an empty file" "$KD" info "$empty"

expect_fail 1 "is a directory" "info on a directory" "$KD" info "$T"

# ---- fixtures ---------------------------------------------------------------------------
have_h5py=0
if [ -x "$PY" ] && "$PY" -c 'import h5py, numpy' 2>/dev/null; then
    have_h5py=1
    "$PY" - "$T" <<'EOF'
import sys, h5py, numpy as np
T = sys.argv[1]
rng = np.random.default_rng(5)

def dataset(path, kind, L, temps, per, nr):
    n = len(temps) * per
    shape = (n, L) if kind == 'chain' else (n, L, L)
    with h5py.File(path, 'w') as f:
        for k, v in dict(format='kadanoff-dataset', kadanoff_version='h5py-fixture',
                         lattice=kind, boundary='periodic', algorithm='metropolis',
                         burn_in='auto', interval='3', command='python fixture').items():
            f.attrs[k] = v
        f.attrs['format_version'] = np.int64(1)
        f.attrs['L'] = np.int64(L)
        f.attrs['J'] = 1.0
        f.attrs['field'] = 0.0
        f.attrs['seed'] = np.uint64(2**64 - 1)
        f.attrs['samples_per_temperature'] = np.uint64(per)
        f.attrs['symmetrize'] = np.int64(0)
        s = rng.choice(np.array([-1, 1], dtype=np.int8), size=shape)
        f.create_dataset('spins', data=s, chunks=(min(n, 8),) + shape[1:], compression='gzip')
        N = np.prod(shape[1:])
        f['temperature'] = np.repeat(np.asarray(temps, dtype=np.float64), per)
        f['energy'] = rng.normal(-1, 0.1, n)
        f['magnetization'] = s.reshape(n, -1).sum(axis=1) / N
        names = ['T', 'n', 'burn_in', 'interval', 'tau_e', 'acceptance', 'e', 'e_err',
                 'abs_m', 'abs_m_err', 'm2', 'm2_err', 'c', 'c_err', 'chi', 'chi_err',
                 'binder', 'binder_err', 'tau_e_samples']
        dt = np.dtype([(c, '<u8' if c == 'n' else '<f8') for c in names])
        rows = np.zeros(len(temps), dtype=dt)
        for i, c in enumerate(names):
            rows[c] = per if c == 'n' else np.arange(len(temps)) + 0.5 * i
        rows['T'] = temps
        f['summary'] = rows
        f['correlation'] = rng.random((len(temps), nr))
        f['correlation_err'] = rng.random((len(temps), nr)) * 1e-3

dataset(T + '/square.h5', 'square', 6, [1.0, 2.5, np.inf], 4, 4)
dataset(T + '/chain.h5', 'chain', 12, [0.0, 1.0], 5, 7)

# spin value 3: a dataset that is HDF5-valid but not a valid kadanoff dataset
import shutil
shutil.copy(T + '/square.h5', T + '/spin3.h5')
with h5py.File(T + '/spin3.h5', 'r+') as f:
    f['spins'][1, 2, 3] = 3

# another kadanoff format (e.g. a future model file): listed, exported generically
with h5py.File(T + '/model.h5', 'w') as f:
    f.attrs['format'] = 'kadanoff-rbm'
    f.attrs['format_version'] = np.int64(1)
    f.attrs['kadanoff_version'] = '9.9.9'
    f.attrs['nv'] = np.int64(16)
    f['weights'] = np.arange(48, dtype=np.float32).reshape(16, 3)
    f['layer1/bias'] = np.linspace(0, 1, 3)
    f['names'] = np.array([b'a', b'b'])

# plain HDF5, no format tag
with h5py.File(T + '/plain.h5', 'w') as f:
    f['x'] = np.zeros(3)
EOF
    [ $? -eq 0 ] || { echo "FAIL: building fixtures with h5py"; fail=$((fail + 1)); have_h5py=0; }
else
    skip "h5py fixtures: /usr/bin/python3 with h5py and numpy not available"
fi

sampled=0
if "$KD" sample -L 4 --temps 2,inf -n 20 --seed 1 -q -o "$T/sampled.h5" >/dev/null 2>&1 &&
    [ -s "$T/sampled.h5" ]; then
    sampled=1
else
    skip "'kadanoff sample' fixture: the sample command does not work in this build"
fi

# ---- good files -------------------------------------------------------------------------------
describe_good() { # FILE LATTICE-LINE
    run "$KD" info "$1"
    expect "info $(basename "$1"): exit 0" status_is 0
    expect "info $(basename "$1"): names the format" out_has "kadanoff-dataset"
    expect "info $(basename "$1"): lattice line" out_has "$2"
    expect "info $(basename "$1"): summary table" out_has "e +- err"
    expect "info $(basename "$1"): nothing on stderr" test ! -s "$T/err"
}
if [ $have_h5py = 1 ]; then
    describe_good "$T/square.h5" "square, L = 6"
    expect "info square.h5: temperatures with counts" out_has "inf x 4"
    expect "info square.h5: seed above 2^63" out_has "seed 18446744073709551615"
    describe_good "$T/chain.h5" "chain, L = 12"
    expect "info chain.h5: T = 0 counted" out_has "0 x 5"
fi
if [ $sampled = 1 ]; then
    describe_good "$T/sampled.h5" "square, L = 4"
fi

if [ $have_h5py = 1 ]; then
    run "$KD" export "$T/square.h5" --npy "$T/npy/square"
    expect "export square.h5: exit 0" status_is 0
    for a in spins temperature energy magnetization summary correlation correlation_err; do
        expect "export square.h5: $a.npy written" test -s "$T/npy/square/$a.npy"
    done
    expect "export: summary_columns.txt and attributes.json" \
        test -s "$T/npy/square/summary_columns.txt" -a -s "$T/npy/square/attributes.json"
    expect "export: no temporary files" no_temp_files "$T/npy"
    "$PY" - "$T/square.h5" "$T/npy/square" <<'EOF'
import sys, json, h5py, numpy as np
src, d = sys.argv[1], sys.argv[2]
f = h5py.File(src, 'r')
for name in ['spins', 'temperature', 'energy', 'magnetization', 'correlation', 'correlation_err']:
    a = np.load(f'{d}/{name}.npy')
    b = f[name][()]
    assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), name
cols = open(f'{d}/summary_columns.txt').read().split()
table = np.load(f'{d}/summary.npy')
assert table.shape == (3, 19) and table.dtype == np.float64
for i, c in enumerate(cols):
    assert np.array_equal(table[:, i], f['summary'][c].astype(np.float64)), c
attrs = json.load(open(f'{d}/attributes.json'))
assert attrs['seed'] == 2**64 - 1 and attrs['lattice'] == 'square' and attrs['J'] == 1.0
assert attrs['format'] == 'kadanoff-dataset'
EOF
    expect "export: numpy/json read back exactly what h5py reads from the file" test $? -eq 0

    # chain: spins (n, L); re-export into the same directory replaces files
    run "$KD" export -q "$T/chain.h5" --npy "$T/npy/square"
    expect "export -q chain.h5 over an existing export: exit 0, silent" \
        test "$rc" -eq 0 -a ! -s "$T/out"
    "$PY" -c "import numpy as np; s = np.load('$T/npy/square/spins.npy'); assert s.shape == (10, 12) and s.dtype == np.int8 and set(np.unique(s)) <= {-1, 1}"
    expect "export chain.h5: spins (n, L) int8" test $? -eq 0

    # another kadanoff format
    run "$KD" info "$T/model.h5"
    expect "info model.h5 (unknown format): exit 0" status_is 0
    expect "info model.h5: format tag shown" out_has "kadanoff-rbm"
    expect "info model.h5: attribute listed" out_has "nv"
    expect "info model.h5: objects with shapes" out_has "/weights"
    expect "info model.h5: shape of /weights" out_has "(16, 3)"
    expect "info model.h5: nested dataset" out_has "/layer1/bias"
    run "$KD" export "$T/model.h5" --npy "$T/npy/model"
    expect "export model.h5: exit 0" status_is 0
    expect "export model.h5: weights.npy and layer1.bias.npy" \
        test -s "$T/npy/model/weights.npy" -a -s "$T/npy/model/layer1.bias.npy"
    expect "export model.h5: string array skipped with a warning" err_has "skipping '/names'"
    "$PY" -c "import numpy as np; w = np.load('$T/npy/model/weights.npy'); assert w.dtype == np.float32 and (w == np.arange(48).reshape(16, 3)).all()"
    expect "export model.h5: float32 weights exact" test $? -eq 0

    # foreign and damaged HDF5
    expect_fail 1 "$T/plain.h5: HDF5 file without a 'format' attribute" \
        "info on HDF5 without a format tag" "$KD" info "$T/plain.h5"
    expect_fail 1 "'format'" "export of HDF5 without a format tag" \
        "$KD" export "$T/plain.h5" --npy "$T/x"
    expect "failed export creates no directory" test ! -e "$T/x"
    expect_fail 1 "value 3 at configuration 1" "export of a dataset with spin 3" \
        "$KD" export "$T/spin3.h5" --npy "$T/x"
    expect "failed export creates no directory" test ! -e "$T/x"

    size=$(stat -c %s "$T/square.h5")
    head -c $((size / 2)) "$T/square.h5" >"$T/truncated.h5"
    expect_fail 1 "$T/truncated.h5" "info on a truncated file" "$KD" info "$T/truncated.h5"
    expect "truncated: says truncated" err_has "truncated"
    expect_fail 1 "$T/truncated.h5" "export of a truncated file" \
        "$KD" export "$T/truncated.h5" --npy "$T/x"
    expect "failed export creates no directory" test ! -e "$T/x"

    # unwritable output directory: below a regular file (permissions do not bind root)
    : >"$T/regular"
    expect_fail 1 "Not a directory" "export below a regular file" \
        "$KD" export "$T/square.h5" --npy "$T/regular/out"
    expect_fail 1 "not a directory" "export onto a regular file" \
        "$KD" export "$T/square.h5" --npy "$T/regular"
    if [ "$(id -u)" != 0 ]; then
        mkdir "$T/ro" && chmod 555 "$T/ro"
        expect_fail 1 "$T/ro/out" "export into a read-only directory" \
            "$KD" export "$T/square.h5" --npy "$T/ro/out"
        chmod 755 "$T/ro"
    else
        skip "read-only export directory: running as root, permissions are not enforced"
    fi
fi

lib_cli_done
