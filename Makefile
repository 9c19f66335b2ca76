# Thin wrapper around CMake. The README's two commands: `make demo`, `make test`.
BUILD    ?= build
ASANDIR  ?= build-asan
FUZZDIR  ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS     ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps configure build test demo asan-test fuzz valgrind bench install clean

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

bench: configure
	@cmake --build $(BUILD) -j$(JOBS) --target benchmarks kadanoff_cli
	@bash bench/run.sh $(BUILD)

install: build
	@cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASANDIR) $(FUZZDIR)
