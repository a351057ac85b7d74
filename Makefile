# softvmm — the one test command is `make test` (README.md, .ci/run).

GO ?= go

.PHONY: all build test test-race vet testdata run bench fuzz clean

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
FUZZ_TARGETS = FuzzDecode:./emu/abi FuzzIoctls:./emu/vmm FuzzLoadELF64:./emu/boot FuzzUARTAccesses:./emu/userdev

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
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t%%:*} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) $${t#*:}; \
	done

clean:
	$(GO) clean ./...
