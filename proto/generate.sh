#!/usr/bin/env bash
# Regenerates the Go code for proto/dsgate/v1 into internal/gen/dsgate/v1.
#
# Needs protoc (Debian: apt-get install -y protobuf-compiler) and the Go
# plugins, installed by this script into $(go env GOPATH)/bin when missing:
#   google.golang.org/protobuf/cmd/protoc-gen-go        (pinned to go.mod)
#   google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
# Lint with: (cd proto && buf lint)   [go install github.com/bufbuild/buf/cmd/buf@v1.75.0]
#
# Run from anywhere: proto/generate.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
gobin="$(go env GOPATH)/bin"
export PATH="$gobin:$PATH"
command -v protoc >/dev/null || { echo "protoc not found: apt-get install -y protobuf-compiler" >&2; exit 1; }
command -v protoc-gen-go >/dev/null || (cd "$root" && go install google.golang.org/protobuf/cmd/protoc-gen-go)
command -v protoc-gen-go-grpc >/dev/null || go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
out="$root/internal/gen"
mkdir -p "$out"
cd "$root/proto"
protoc -I . \
  --go_out="$out" --go_opt=module=github.com/dsgate/dsgate/internal/gen \
  --go-grpc_out="$out" --go-grpc_opt=module=github.com/dsgate/dsgate/internal/gen \
  dsgate/v1/*.proto
echo "generated into internal/gen/dsgate/v1"
