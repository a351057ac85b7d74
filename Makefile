# softvmm — the one test command is `make test` (README.md, .ci/run).

GO ?= go

.PHONY: all build test test-race vet testdata run bench fuzz isa-coverage clean

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

# Rebuild every guest image from its sources with GNU as/ld/gcc, and refresh
# the copy of the demo guest that cmd/softvmm embeds.
testdata:
	$(MAKE) -C testdata
	cp testdata/demo.elf cmd/softvmm/demo.elf

run:
	$(GO) run ./cmd/softvmm run

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./bench/... ./emu/cpu/...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./emu/abi

# Per mode, how many x86.csv rows the interpreter implements and how many
# a differential or guest test verifies (emu/cpu/isacov_test.go); set
# ISA_COVERAGE_LIST=1 to list the rows that are not verified.
isa-coverage:
	@ISA_COVERAGE=$$($(GO) list -m -f '{{.Dir}}' golang.org/x/arch)/x86/x86.csv \
		$(GO) test -count=1 -run '^TestISACoverage$$' -v ./emu/cpu/ | grep -E 'mode|FAIL' | grep -v -- '--- '

clean:
	$(GO) clean ./...
