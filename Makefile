# Thin wrapper around CMake. The README's two commands: `make demo`, `make test`.
BUILD    ?= build
ASANDIR  ?= build-asan
FUZZDIR  ?= build-fuzz
FUZZ_SECONDS ?= 60
MPIDIR   ?= build-mpi
JOBS     ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps configure build test demo asan-test mpi-test fuzz valgrind bench install clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

demo: build
	@$(BUILD)/kadanoff demo

# The same tests built with AddressSanitizer + UndefinedBehaviorSanitizer.
asan-test: deps
	@cmake -S . -B $(ASANDIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKADANOFF_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASANDIR) -j$(JOBS)
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 KADANOFF_SANITIZED=1 \
	  ctest --test-dir $(ASANDIR) --output-on-failure -j$(JOBS)

# libFuzzer targets (fuzz/, clang + ASan + UBSan), each run FUZZ_SECONDS from a
# seed corpus written by kadanoff; findings triaged by fuzz/run.sh.
fuzz:
	@bash scripts/install-deps.sh --fuzz
	@cmake -S . -B $(FUZZDIR) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DKADANOFF_FUZZ=ON -DKADANOFF_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(FUZZDIR) -j$(JOBS) --target fuzzers kadanoff_cli
	@bash fuzz/run.sh $(FUZZDIR) $(FUZZ_SECONDS)

# Valgrind memcheck on a subset of the tests (scripts/valgrind-subset.sh).
valgrind: build
	@bash scripts/install-deps.sh --valgrind
	@bash scripts/valgrind-subset.sh $(BUILD)

# The optional MPI build (-DKADANOFF_MPI=ON, Open MPI from Debian; docs/cluster.md)
# and its MPI tests, tests/cli_mpi.sh (skipped in the other builds); the rest of
# the suite is the same code as `make test` (`ctest --test-dir $(MPIDIR)` runs it all).
mpi-test:
	@bash scripts/install-deps.sh --mpi
	@cmake -S . -B $(MPIDIR) -DCMAKE_BUILD_TYPE=Release -DKADANOFF_MPI=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(MPIDIR) -j$(JOBS)
	@ctest --test-dir $(MPIDIR) --output-on-failure -j$(JOBS) -R cli_mpi

bench: configure
	@cmake --build $(BUILD) -j$(JOBS) --target benchmarks kadanoff_cli
	@bash bench/run.sh $(BUILD)

install: build
	@cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASANDIR) $(FUZZDIR) $(MPIDIR)
