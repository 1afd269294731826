#!/usr/bin/env bash
# Builds llama.cpp's llama-server (CPU only) from the source that the npm
# package node-llama-cpp ships, pinned by version and commit, and caches it
# under ${XDG_CACHE_HOME:-~/.cache}/dsgate/llama.cpp/<commit>/. Nothing is
# downloaded at build or run time besides the npm tarball itself: the web UI
# is left out and HTTPS/curl are off.
#
# Prints the cache directory on stdout; it holds:
#   bin/llama-server   the server the engine tests run (DSGATE_LLAMA_SERVER)
#   models/            llama.cpp's ggml-vocab-*.gguf tokenizer files and
#                      chat templates (DSGATE_LLAMA_MODELS), from which the
#                      tests' tiny models take their vocabularies
# A second run finds the cached binary and returns at once.
set -euo pipefail

NODE_LLAMA_CPP_VERSION=3.22.1
LLAMA_COMMIT=de3ff815ea7d559ee917f063901b8986f038abc6
JOBS="${LLAMA_BUILD_JOBS:-2}"

cache="${XDG_CACHE_HOME:-$HOME/.cache}/dsgate/llama.cpp/$LLAMA_COMMIT"
server="$cache/bin/llama-server"
log() { printf '==> llamacpp: %s\n' "$*" >&2; }

if [ -x "$server" ] && [ -f "$cache/models/ggml-vocab-qwen2.gguf" ] && "$server" --version >/dev/null 2>&1; then
  echo "$cache"
  exit 0
fi

for tool in npm git cmake g++ tar; do
  command -v "$tool" >/dev/null || { log "missing $tool"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/dsgate-llamacpp.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)

log "fetching node-llama-cpp@$NODE_LLAMA_CPP_VERSION (npm pack)"
(cd "$work" && npm pack --silent "node-llama-cpp@$NODE_LLAMA_CPP_VERSION" >/dev/null)
tar -xzf "$work/node-llama-cpp-$NODE_LLAMA_CPP_VERSION.tgz" -C "$work" package/llama/gitRelease.bundle
git clone -q "$work/package/llama/gitRelease.bundle" "$work/src" 2>/dev/null
got=$(git -C "$work/src" rev-parse HEAD)
if [ "$got" != "$LLAMA_COMMIT" ]; then
  log "node-llama-cpp@$NODE_LLAMA_CPP_VERSION ships llama.cpp $got, want $LLAMA_COMMIT"
  exit 1
fi

log "building llama-server $LLAMA_COMMIT with $JOBS jobs (once; minutes on 2 cores)"
cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON >"$work/cmake.log" 2>&1 ||
  { tail -40 "$work/cmake.log" >&2; exit 1; }
nice -n 10 cmake --build "$work/build" --target llama-server -j "$JOBS" >"$work/build.log" 2>&1 ||
  { tail -40 "$work/build.log" >&2; exit 1; }

# Install atomically: a half-copied cache never looks complete.
tmp="$cache.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp/bin" "$tmp/models/templates"
cp "$work/build/bin/llama-server" "$tmp/bin/"
cp "$work/src/models/"ggml-vocab-*.gguf "$tmp/models/"
cp "$work/src/models/templates/"*.jinja "$tmp/models/templates/"
rm -rf "$cache" && mv "$tmp" "$cache"
log "built in $(( $(date +%s) - start ))s: $server"
echo "$cache"
