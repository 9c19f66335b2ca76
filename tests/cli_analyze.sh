#!/usr/bin/env bash
# CLI-level tests of `kadanoff analyze`: usage errors (exit 2), bad inputs
# (exit 1, message names the file, nothing written), and, when a model file can
# be made with `kadanoff train-rbm`, an end-to-end run on a tiny model: printed
# spectrum, figure data + scripts, PNGs when gnuplot is installed, a
# self-contained report, the comparison with data, and the run without gnuplot.
# Usage: cli_analyze.sh /path/to/kadanoff
set -u

KD=${1:?usage: cli_analyze.sh /path/to/kadanoff}
. "$(dirname "$0")/lib_cli.sh"
png_ok() { [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }

expect_fail() { # expect_fail STATUS PHRASE DESCRIPTION CMD...
    local want=$1 phrase=$2 what=$3
    shift 3
    run "$@"
    expect "$what: exit $want (got $rc)" status_is "$want"
    expect "$what: message says '$phrase'" err_has "$phrase"
}

# ---- usage ---------------------------------------------------------------------
run "$KD" analyze --help
expect "analyze --help: exit 0" status_is 0
expect "analyze --help: usage on stdout" out_has "Usage: kadanoff analyze"
expect "analyze --help: documents --data" out_has "--data FILE.h5"
expect_fail 2 "no MODEL.h5 given" "analyze without a model" "$KD" analyze -o "$T/x"
expect_fail 2 "-o/--output DIR is required" "analyze without -o" "$KD" analyze m.h5
expect_fail 2 "--top must be between" "analyze --top 0" "$KD" analyze m.h5 --top 0 -o "$T/x"
expect_fail 2 "unknown option '--bogus'" "analyze --bogus" "$KD" analyze m.h5 --bogus -o "$T/x"
expect_fail 2 "needs a value" "analyze --data without a value" "$KD" analyze m.h5 -o "$T/x" --data
expect_fail 2 "--temps needs --data" "analyze --temps without --data" "$KD" analyze m.h5 --temps 1 -o "$T/x"
expect_fail 2 "unexpected argument" "analyze with two models" "$KD" analyze a.h5 b.h5 -o "$T/x"
expect "usage errors create no output directory" test ! -e "$T/x"

# ---- bad model files -------------------------------------------------------------
expect_fail 1 "$T/missing.h5" "analyze a missing file" "$KD" analyze "$T/missing.h5" -o "$T/x"
printf 'not hdf5\n' >"$T/text.h5"
expect_fail 1 "$T/text.h5" "analyze a text file" "$KD" analyze "$T/text.h5" -o "$T/x"
expect "failed runs create no output directory" test ! -e "$T/x"

# ---- a tiny model ------------------------------------------------------------------
data="$T/data.h5"
run "$KD" sample -L 6 --temps 1,2.25,3.5,inf -n 200 --seed 3 -o "$data" -q
if ! status_is 0; then
    skip "kadanoff sample failed (exit $rc): no data for the end-to-end tests"
else
    expect_fail 1 "kadanoff-rbm" "analyze a dataset as a model" "$KD" analyze "$data" -o "$T/x"
    expect "a foreign file creates no output directory" test ! -e "$T/x"

    model="$T/rbm.h5"
    # The option names of train-rbm are read from its help text.
    help=$("$KD" train-rbm --help 2>/dev/null)
    hidden=--hidden
    case $help in *--nh*) hidden=--nh ;; esac
    run "$KD" train-rbm "$data" "$hidden" 8 --epochs 5 --seed 1 -o "$model" -q
    if ! status_is 0 || [ ! -s "$model" ]; then
        skip "could not make a model with 'kadanoff train-rbm' (exit $rc: $(head -n 1 "$T/err")); end-to-end analyze tests not run"
    else
        out="$T/an"
        run "$KD" analyze "$model" -o "$out" --top 4
        expect "analyze: exit 0 (got $rc; $(head -c 300 "$T/err"))" status_is 0
        expect "analyze prints the W W^T spectrum" out_has "eigenvalues of W W^T"
        expect "analyze prints the singular values" out_has "singular values of W"
        expect "analyze prints the Fourier table" out_has "wavelength"
        for f in spectrum singular_values fourier eigenvectors hidden_units gram displacement; do
            expect "figure $f: data file" test -s "$out/figures/$f.dat"
            expect "figure $f: gnuplot script" test -s "$out/figures/$f.gp"
        done
        expect "report.md written" test -s "$out/report.md"
        expect "report.html written" test -s "$out/report.html"
        expect "report.html makes no external request" sh -c "! grep -qE 'https?://' '$out/report.html'"
        expect "no temporary files left" no_temp_files "$out"
        if command -v gnuplot >/dev/null 2>&1; then
            for f in spectrum eigenvectors hidden_units gram; do
                expect "figure $f: PNG with PNG signature" png_ok "$out/figures/$f.png"
            done
            expect "report.html embeds the figures" grep -q 'src="data:image/png;base64,' "$out/report.html"
        else
            skip "gnuplot not installed: PNGs not checked"
        fi

        run "$KD" analyze "$model" --data "$data" -o "$T/an_data" --top 4 --no-svg
        expect "analyze --data: exit 0 (got $rc)" status_is 0
        expect "analyze --data: comparison printed" out_has "subspace overlap"
        expect "analyze --data: training temperatures used" out_has "training temperatures"
        expect "analyze --data: W W^T vs C figure data" test -s "$T/an_data/figures/gram_vs_correlation.dat"
        expect "analyze --data: eigenvectors of C" test -s "$T/an_data/figures/eigenvectors_data.gp"

        run "$KD" analyze "$model" --data "$data" --temps 2.25 -o "$T/an_t" -q --no-render
        expect "analyze --temps 2.25: exit 0 (got $rc)" status_is 0
        expect "analyze -q prints nothing" test ! -s "$T/out"

        expect_fail 1 "no configuration at the selected temperatures" "analyze --temps 9" \
            "$KD" analyze "$model" --data "$data" --temps 9 -o "$T/an_9"
        run "$KD" sample -L 4 --temps 2 -n 20 --seed 1 -o "$T/small.h5" -q
        expect_fail 1 "does not match" "analyze with data of another lattice" \
            "$KD" analyze "$model" --data "$T/small.h5" -o "$T/an_small"
        expect_fail 2 "single RBM" "analyze --layer 2 of an RBM" \
            "$KD" analyze "$model" --layer 2 -o "$T/an_l2"

        # Without gnuplot: success, a warning, data and scripts kept, no PNG.
        run env PATH=/nonexistent "$KD" analyze "$model" -o "$T/an_nognu" --top 4
        expect "without gnuplot: exit 0 (got $rc)" status_is 0
        expect "without gnuplot: warning says so" err_has "gnuplot not found"
        expect "without gnuplot: script kept" test -s "$T/an_nognu/figures/spectrum.gp"
        expect "without gnuplot: no PNG" test ! -e "$T/an_nognu/figures/spectrum.png"
        expect "without gnuplot: report still written" test -s "$T/an_nognu/report.html"

        run "$KD" analyze "$model" -o "$T/an_norender" --no-render
        expect "--no-render: exit 0, no warning" sh -c "[ $rc -eq 0 ] && ! grep -q warning '$T/err'"
        expect "--no-render: no PNG" test ! -e "$T/an_norender/figures/spectrum.png"
    fi
fi

lib_cli_done
