# Helpers shared by the scripts that build upstream tools from Go modules (build-collector.sh,
# build-kubernetes-tools.sh): sourced, not run. The caller sets PREFIX (its name in progress lines).

say() { echo "${PREFIX:-build}: $*" >&2; }

find_go() {
  local go
  go=$(command -v go || true)
  [ -n "$go" ] || { [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go; }
  if [ -z "$go" ]; then
    say "no Go toolchain (go on PATH or /usr/local/go/bin/go); install Go 1.25+ to build it"
    exit 3
  fi
  echo "$go"
}

# Run "$@" with an exclusive lock on $1.lock, so that concurrent runs build once and the others reuse it.
locked() {
  local target=$1
  shift
  mkdir -p "$(dirname "$target")"
  exec {fd}>"$target.lock"
  flock "$fd"
  "$@"
  exec {fd}>&-
}

# Run "$@" in the directory $2, its output in $2/build.log; on failure show the log's end and exit 1.
# (`set -e` does not apply inside: chain the steps of "$@" with &&.)
logged_in() {
  local label=$1 work=$2
  shift 2
  (cd "$work" && "$@") >"$work/build.log" 2>&1 || {
    tail -n 40 "$work/build.log" >&2
    say "$label: failed; full log in $work/build.log"
    exit 1
  }
}

# Build into the cache directory $2 unless it holds $3 already: run the steps function $4 (with its
# expected duration $5 for the progress line) in a fresh directory, where it leaves what it built in out/;
# then move that and its log into $2, so that a failed or interrupted build leaves no half-filled cache.
build_cached() {
  local label=$1 out=$2 marker=$3 steps=$4 expected=$5 work start
  if [ -e "$out/$marker" ]; then
    say "$label: cached ($out)"
    return
  fi
  mkdir -p "$(dirname "$out")"
  work=$(mktemp -d "$(dirname "$out")/.build-$(basename "$out").XXXXXX")
  mkdir "$work/out"
  start=$SECONDS
  say "$label: building in $work ($expected when the Go caches are cold)"
  logged_in "$label" "$work" "$steps"
  mkdir -p "$out"
  mv "$work"/out/* "$work/build.log" "$out/"
  rm -rf "$work"
  say "$label: built in $((SECONDS - start)) s: $out"
}
