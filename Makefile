# softvmm — the one test command is `make test` (README.md, .ci/run).

GO ?= go

.PHONY: all build test test-race vet testdata run bench bench-check fuzz clean isa-coverage

all: build test

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

# The whole suite, then again under the race detector (short mode keeps the
# race run to the concurrency-relevant parts within the time budget).
test: vet
	$(GO) test ./...
	$(GO) test -race -short ./...
	$(MAKE) fuzz FUZZTIME=10s

# Each fuzz target for a bounded time (make test runs them briefly; run
# `make fuzz FUZZTIME=10m` to search longer). Go fuzzes one target per
# invocation.
FUZZTIME ?= 30s
FUZZ_TARGETS = FuzzDecode:./emu/abi FuzzIoctls:./emu/vmm FuzzLoadELF64:./emu/boot FuzzUARTAccesses:./emu/userdev FuzzInterp:./emu/cpu

# Rebuild every guest image from its sources with GNU as/ld/gcc, and refresh
# the copy of the demo guest that cmd/softvmm embeds.
testdata:
	$(MAKE) -C testdata
	$(MAKE) -C bench/testdata
	cp testdata/demo.elf cmd/softvmm/demo.elf

run:
	$(GO) run ./cmd/softvmm run

# The speed floor of issue 3: every bench/ workload at 50 guest MIPS or
# more, with no allocation. Timing depends on machine load; run it alone.
bench-check:
	$(GO) test -run '^$$' -bench Workload -benchtime 10x ./bench/ | tee /dev/stderr | \
	awk '/MIPS/ { for (i = 1; i <= NF; i++) { if ($$(i+1) == "MIPS") m = $$i; if ($$(i+1) == "allocs/op") a = $$i } \
		n++; if (m < 50 || a != 0) { bad++; print "below the floor: " $$1 } } \
		END { if (n != 3) { print "expected 3 workloads, got " n; exit 1 } exit bad > 0 }'

# Issue 3's coverage report: per mode, how many in-scope x86.csv rows are
# implemented and how many a differential or guest test verified, and the
# gaps (emu/cpu/isacov_test.go says what counts).
isa-coverage:
	@f=$$(mktemp); ISA_COVERAGE=$$f $(GO) test -count=1 -run . ./emu/cpu/ >/dev/null || { rm -f $$f; \
		echo "emu/cpu tests failed; run go test ./emu/cpu/"; exit 1; }; cat $$f; rm -f $$f

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./bench/... ./emu/cpu/...

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t%%:*} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) $${t#*:}; \
	done

clean:
	$(GO) clean ./...
