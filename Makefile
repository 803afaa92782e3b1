# signway's entry points for people and CI. `make test` is what CI runs
# (through .ci/run); it installs the external servers the tests use first.

GO ?= go
# Where `go install` puts binaries (versitygw); the tests also look there,
# but the AWS CLI and scripts want it on PATH.
GOBIN_DIR := $(or $(shell $(GO) env GOBIN),$(firstword $(subst :, ,$(shell $(GO) env GOPATH)))/bin)
# botocore, moto and the AWS CLI v1 live in this machine's pyenv Python,
# whose shims a non-login shell may lack; put first, as `pyenv init` does,
# so python3 is the one that has them.
PYENV_SHIMS := $(wildcard $(HOME)/.pyenv/shims)
export PATH := $(GOBIN_DIR):$(if $(PYENV_SHIMS),$(PYENV_SHIMS):)$(PATH)

TEST_TIMEOUT ?= 40m
TEST_FLAGS ?=
# e.g. make bench BENCH_FLAGS='-duration 3s -rounds 1 -out /tmp/bench.md'
BENCH_FLAGS ?=
BENCH_BIN ?= $(or $(TMPDIR),/tmp)/signway-loadbench
# per fuzz target
FUZZTIME ?= 10s

.PHONY: all test bench fuzz demo tools tools-bench vet lint faults soak

all: test

# The upload tests run both AWS CLIs; v2 is Debian's awscli package.
tools:
	scripts/install-tools.sh --awscli-v2

tools-bench:
	scripts/install-tools.sh --bench

# -race on 2 cores with real servers is slow; the timeout is for hangs,
# not for a normal run.
test: tools lint
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...

vet:
	$(GO) vet ./...

# gofmt, go vet, go.mod tidy, staticcheck and deadcode (pinned; built through
# the Go module proxy and cached like any module). deadcode counts tests as
# callers (-test): code only the tests use is not dead, test helpers are not.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
DEADCODE ?= golang.org/x/tools/cmd/deadcode@v0.52.0
lint: vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) run $(STATICCHECK) ./...
	@dead=$$($(GO) run $(DEADCODE) -test ./...) || exit 1; \
	if [ -n "$$dead" ]; then echo "deadcode: unreachable functions (remove them):"; echo "$$dead"; exit 1; fi

# Runs from the repository root so loadbench can build ./cmd/signway.
bench: tools-bench
	$(GO) build -o $(BENCH_BIN) ./bench/loadbench
	$(BENCH_BIN) $(BENCH_FLAGS)

fuzz:
	scripts/fuzz.sh $(FUZZTIME)

# The fault-injection suite (internal/faults): upstream resets, hangs and
# slow reads, STS down and slow, credential rotation, reloads and caller
# aborts under load, checked for failed requests, truncated objects and
# leaks. Short and bounded: `make test` runs it too.
faults: tools
	$(GO) test -race -count=1 -timeout 15m ./internal/faults/

# The same scenarios, each for SOAK_TIME, reporting requests, failures and
# peaks as a table (docs/performance.md has the last run's).
SOAK_TIME ?= 1m
SOAK_REPORT ?= $(or $(TMPDIR),/tmp)/signway-soak.md
soak: tools
	@printf '| scenario | time | ok | failed (injected) | unexpected | peak goroutines | peak heap |\n|---|---|---|---|---|---|---|\n' >$(SOAK_REPORT)
	SIGNWAY_SOAK=$(SOAK_TIME) SIGNWAY_SOAK_REPORT=$(abspath $(SOAK_REPORT)) $(GO) test -count=1 -timeout 0 -run TestFaults ./internal/faults/
	@cat $(SOAK_REPORT)

demo:
	$(GO) run ./cmd/signway demo
