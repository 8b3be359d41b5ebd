#!/bin/bash
# Runs every test suite of the repository and ends with one line: "N passed, N failed".
#
#   tests/test.sh
#
# 1. unit tests:         dotnet test tests/CrateRun.Core.Tests
# 2. integration tests:  CRATERUN_BIN=$PWD/out/craterun dotnet test tests/CrateRun.Integration.Tests
#    (needs root and the published binary: dotnet publish src/CrateRun.Cli -c Release -o out;
#    without them the integration tests are skipped, unless CI=true: then they fail)
#
# Environment: CRATERUN_BIN (default $PWD/out/craterun), TEST_RESULTS_DIR (default
# artifacts/test-results: one .trx per suite), SUITE_TIMEOUT (default 20m, per suite).
# Exit status: 0 when every suite ran and nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit

RESULTS=${TEST_RESULTS_DIR:-$PWD/artifacts/test-results}
SUITE_TIMEOUT=${SUITE_TIMEOUT:-20m}
export CRATERUN_BIN=${CRATERUN_BIN:-$PWD/out/craterun}
rm -rf "$RESULTS"
mkdir -p "$RESULTS"

status=0
run_suite() { # name project
    local name=$1 project=$2 rc=0
    echo "==> $name: dotnet test $project"
    timeout --kill-after=30s "$SUITE_TIMEOUT" \
        dotnet test "$project" --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=normal" \
        --results-directory "$RESULTS" || rc=$?
    if [ "$rc" = 124 ]; then echo "==> $name: timed out after $SUITE_TIMEOUT" >&2; fi
    if [ "$rc" != 0 ]; then status=1; fi
    echo "==> $name: exit $rc"
}

run_suite unit tests/CrateRun.Core.Tests
run_suite integration tests/CrateRun.Integration.Tests

# Summary from the trx files: <Counters total=".." executed=".." passed=".." failed=".." error=".." timeout=".." aborted=".." .../>
# (skipped tests are the ones not executed)
counter() { # file attribute
    grep -o '<Counters [^>]*>' "$1" | grep -o " $2=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0
}
passed=0 failed=0 skipped=0
for name in unit integration; do
    trx=$RESULTS/$name.trx
    if [ ! -f "$trx" ]; then
        echo "==> $name: no results ($trx missing): counted as 1 failure" >&2
        failed=$((failed + 1))
        continue
    fi
    p=$(counter "$trx" passed)
    f=$(( $(counter "$trx" failed) + $(counter "$trx" error) + $(counter "$trx" timeout) + $(counter "$trx" aborted) ))
    s=$(( $(counter "$trx" total) - $(counter "$trx" executed) ))
    echo "==> $name: $p passed, $f failed, $s skipped"
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done
if [ "$failed" = 0 ] && [ "$status" != 0 ]; then
    echo "==> a suite failed without failing tests (build error, crash or timeout): counted as 1 failure" >&2
    failed=1
fi
[ "$skipped" = 0 ] || echo "($skipped skipped)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$status" = 0 ]
