#!/usr/bin/env bash
# Regenerates serve/grpc/akidbv1 from serve/grpc/proto/akidb/v1/akidb.proto.
#
#   serve/grpc/gen.sh            (from anywhere inside the repository)
#
# Needs protoc with the well-known types (Debian/Ubuntu:
# apt-get install -y protobuf-compiler libprotobuf-dev, which puts them in
# /usr/include/google/protobuf) and Go. The code generators are installed at
# the fixed versions below into a temporary GOBIN, so the output depends
# only on these pins and on the protoc version (which appears in the
# generated headers; the committed code was made with libprotoc 3.21.12,
# Debian bookworm's). Override the include directory holding
# google/protobuf/*.proto with PROTOC_INCLUDE=...
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12     # google.golang.org/protobuf, as in go.mod
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2  # google.golang.org/grpc/cmd/protoc-gen-go-grpc
EXPECTED_PROTOC="libprotoc 3.21.12"
MODULE=github.com/akidb/akidb

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
include=${PROTOC_INCLUDE:-/usr/include}

command -v protoc >/dev/null || { echo "gen.sh: protoc not found: apt-get install -y protobuf-compiler libprotobuf-dev" >&2; exit 1; }
[ -f "$include/google/protobuf/struct.proto" ] || { echo "gen.sh: $include/google/protobuf/struct.proto not found: apt-get install -y libprotobuf-dev or set PROTOC_INCLUDE" >&2; exit 1; }
got=$(protoc --version)
if [ "$got" != "$EXPECTED_PROTOC" ]; then
	echo "gen.sh: warning: protoc is '$got', the committed code was made with '$EXPECTED_PROTOC'; only the version comments in the headers should change" >&2
fi

gobin=$(mktemp -d)
trap 'rm -rf "$gobin"' EXIT
# GOFLAGS is cleared so a project-wide -mod setting cannot interfere with
# installing tools at an explicit version.
GOFLAGS= GOBIN="$gobin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
GOFLAGS= GOBIN="$gobin" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"

cd "$root"
rm -f serve/grpc/akidbv1/*.pb.go
PATH="$gobin:$PATH" protoc \
	-I serve/grpc/proto \
	-I "$include" \
	--go_out=. --go_opt=module="$MODULE" \
	--go-grpc_out=. --go-grpc_opt=module="$MODULE" \
	serve/grpc/proto/akidb/v1/akidb.proto
echo "gen.sh: wrote $(ls serve/grpc/akidbv1/*.pb.go | tr '\n' ' ')"
