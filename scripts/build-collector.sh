#!/usr/bin/env bash
# Build, from Go modules, the dcm_otel collector distribution (collector/builder-config.yaml, with the
# official builder, ocb) and Jaeger v2, the trace store of the end-to-end tests. Each binary is cached
# outside the repo and rebuilt only when its inputs change (the builder config's hash, Jaeger's version).
#
#   scripts/build-collector.sh [collector|jaeger|all]     (default: collector)
#
# Prints the path of each binary on stdout, one per line; progress goes to stderr. Exits 3 when no Go
# toolchain is found (the tests then skip, or fail when DCM_OTEL_REQUIRE_SERVICES=1).
# Cache: $DCM_OTEL_CACHE_DIR, default ${XDG_CACHE_HOME:-$HOME/.cache}/dcm_otel. A cold collector build
# took 6 minutes on 2 cores with empty Go caches (Jaeger 5 more); after a manifest change, with the Go
# build cache warm, seconds; with the same manifest, nothing is built.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILDER_CONFIG=$ROOT/collector/builder-config.yaml
CACHE=${DCM_OTEL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dcm_otel}
# Jaeger v2 is released as Go module versions v1.x of github.com/jaegertracing/jaeger (v1.75.0 = v2.12.0;
# the approved release: newer ones are served but not approved).
JAEGER_VERSION=v1.75.0

PREFIX=build-collector
# shellcheck source=scripts/go-build-lib.sh
. "$ROOT/scripts/go-build-lib.sh"

build_collector() {
  local hash release out work start
  hash=$(sha256sum "$BUILDER_CONFIG" | cut -c1-16)
  out=$CACHE/collector/$hash
  if [ -x "$out/dcm-otelcol" ]; then
    say "collector: cached ($out)"
    echo "$out/dcm-otelcol"
    return
  fi
  # The builder's own version is the core release that the manifest pins.
  release=$(grep -m1 -oE 'go\.opentelemetry\.io/collector/[a-z/]+ v0\.[0-9]+\.[0-9]+' "$BUILDER_CONFIG" | cut -d' ' -f2)
  local builder=$CACHE/builder/$release/builder
  if [ ! -x "$builder" ]; then
    say "installing the builder $release"
    GOBIN=$(dirname "$builder") "$GO" install "go.opentelemetry.io/collector/cmd/builder@$release"
  fi
  work=$(mktemp -d "$CACHE/collector/.build-$hash.XXXXXX")
  start=$SECONDS
  say "collector: building $hash with the builder $release in $work (about 6 min when the Go caches are cold)"
  cp "$BUILDER_CONFIG" "$work/builder-config.yaml"
  # -e: `go mod tidy` also resolves the modules of the components' own tests; a few of those are not
  # served by every module proxy, and the binary does not need them.
  (cd "$work" && GOFLAGS="-e -mod=mod" "$builder" --config builder-config.yaml >"$work/build.log" 2>&1) || {
    tail -n 40 "$work/build.log" >&2
    say "collector: build failed; full log in $work/build.log"
    exit 1
  }
  mv "$work/_build/dcm-otelcol" "$work/dcm-otelcol"
  rm -rf "$work/_build"
  mv "$work" "$out"
  say "collector: built in $((SECONDS - start)) s: $out/dcm-otelcol"
  echo "$out/dcm-otelcol"
}

# `go install pkg@version` refuses modules with replace directives: build it as a tool of a module.
jaeger_steps() {
  printf 'module dcm-otel-jaeger\n\ngo 1.25\n' >go.mod &&
    GOFLAGS=-mod=mod "$GO" get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION" &&
    GOFLAGS=-mod=mod "$GO" build -trimpath -ldflags="-s -w" -o out/jaeger github.com/jaegertracing/jaeger/cmd/jaeger
}

target=${1:-collector}
case "$target" in
  collector | jaeger | all) ;;
  *)
    say "usage: $0 [collector|jaeger|all]"
    exit 2
    ;;
esac
GO=$(find_go)
say "using $("$GO" version)"
mkdir -p "$CACHE/collector" "$CACHE/jaeger"
if [ "$target" != jaeger ]; then locked "$CACHE/collector/build" build_collector; fi
if [ "$target" != collector ]; then
  locked "$CACHE/jaeger/build" build_cached "jaeger $JAEGER_VERSION" "$CACHE/jaeger/$JAEGER_VERSION" jaeger jaeger_steps "about 5 min"
  echo "$CACHE/jaeger/$JAEGER_VERSION/jaeger"
fi
