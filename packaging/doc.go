// Package packaging holds the tests of AkiDB's release artefacts: the
// static release binaries (run natively and under qemu-aarch64-static),
// the container image, the Helm chart (rendered by helm and decoded
// strictly into the Kubernetes API types, then served by the real binary
// with the chart's own arguments), the systemd unit, and goreleaser.yaml
// against the Makefile.
//
// It is a module of its own so that what only these tests need (k8s.io/api,
// the prometheus-operator types, go-containerregistry) stays out of the
// akidb module's go.mod, go.sum and SBOM. It does not import the akidb
// module: it tests the built binary, as a user runs it. The Makefile's
// test-release-arm64 and test-packaging targets build what the tests need
// and name it in the environment (AKIDB_BINARIES, AKIDB_BIN, AKIDB_HELM,
// AKIDB_IMAGE); a test whose input is not named fails, it does not skip.
package packaging
