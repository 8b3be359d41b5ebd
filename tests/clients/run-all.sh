#!/bin/bash
# Real clients of an OCI runtime, side by side: podman (conmon), containerd (ctr, runc v2
# shim), Docker (a private dockerd) and containerd's CRI plugin (crictl, Kubernetes' path) run
# the same checks with craterun-oci and with runc. Prints a PASS/FAIL table per check per
# runtime and the median wall times of `podman run --rm true`, `ctr run --rm true` and of a
# CRI pod's start (runp + create + start) and teardown (stopp + rmp), and the CPU time of
# that pod's whole cycle in containerd's tree (containerd, shims, runtime, containers).
# Exits non-zero if any craterun check fails (which includes every check runc passes and
# craterun fails). A check that fails with runc too is reported as the machine's problem.
# usage (root): tests/clients/run-all.sh
#   CRATERUN_OCI  runtime under test (default: out/craterun-oci, published if missing)
#   BENCH_N       runs per timing (default 10; 0 skips the timings)
#   CRI_BENCH_N   runs per handler of the CRI pod timing (default 20; 0 skips it)
#   SUITES        the suites to run (default: podman containerd docker cri)
#   CRICTL        crictl for the CRI suite (default: ../shared/bin/crictl beside the repo, else PATH)
#   KEEP_LOGS     directory to copy the per-check logs to (default: artifacts/clients-logs on failure)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd -P)
REPO=$(cd "$HERE/../.." && pwd -P)
export LC_ALL=C
BENCH_N=${BENCH_N:-10}
CRI_BENCH_N=${CRI_BENCH_N:-20}
SUITES=${SUITES:-podman containerd docker cri}
[[ $EUID -eq 0 ]] || { echo "run-all.sh: run as root (podman, containerd and dockerd need it)" >&2; exit 2; }

# -- packages -----------------------------------------------------------------------------
PKGS=(podman conmon containerd runc umoci skopeo jq busybox-static uidmap util-linux bsdutils
    docker.io containernetworking-plugins iproute2 gcc libc6-dev)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "== installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || { echo "run-all.sh: apt-get install ${missing[*]} failed" >&2; exit 2; }
fi

# -- the runtimes -------------------------------------------------------------------------
CR=${CRATERUN_OCI:-$REPO/out/craterun-oci}
if [[ ! -x $CR ]]; then
    echo "== publishing craterun ($CR is missing)"
    (cd "$REPO" && dotnet publish src/CrateRun.Cli -c Release -o out >/dev/null) || { echo "run-all.sh: publish failed" >&2; exit 2; }
    CR=$REPO/out/craterun-oci
fi
RUNC=$(command -v runc) || { echo "run-all.sh: runc not found" >&2; exit 2; }

W=$(mktemp -d /tmp/craterun-clients.XXXXXX)
cleanup() { rm -rf --one-file-system "$W"; }
trap cleanup EXIT
# A private copy, so that a rebuild of out/ during the run cannot change the binary under
# test; named craterun-oci, as the binary chooses its OCI face from argv[0].
mkdir -p "$W/bin" && cp -L "$CR" "$W/bin/craterun-oci" || { echo "run-all.sh: cannot copy $CR" >&2; exit 2; }
echo "== craterun under test: $CR ($(sha256sum "$W/bin/craterun-oci" | cut -c1-12), $("$W/bin/craterun-oci" --version | head -n 1))"
CR=$W/bin/craterun-oci
mounts_before=$(awk '{ print $5 }' /proc/self/mountinfo | sort)

echo "== images"
"$HERE/images.sh" "$W/images" >"$W/images.log" 2>&1 || { cat "$W/images.log"; echo "run-all.sh: images.sh failed" >&2; exit 2; }

t0=$SECONDS
for label in craterun runc; do
    rt=$CR; [[ $label == runc ]] && rt=$RUNC
    for suite in $SUITES; do
        RUNTIME=$rt RUNTIME_LABEL=$label IMAGES="$W/images" RESULTS="$W/results-$label.tsv" LOGDIR="$W/logs/$label" \
            WORK="$W/$suite-$label" "$HERE/$suite-test.sh"
        rc=$?
        if ((rc != 0)); then
            printf '%s\t%s\tFAIL\tsuite exited %s before its checks\n' "$suite" "setup" "$rc" >>"$W/results-$label.tsv"
        fi
    done
done
elapsed=$((SECONDS - t0))

# -- timings: the two runtimes take turns, run by run, so that both see the same machine --
if ((BENCH_N > 0)); then
    echo "== timings ($BENCH_N runs each, alternating)"
    for suite in $SUITES; do
        [[ $suite == podman || $suite == containerd ]] || continue
        MODE=bench RUNTIME=$CR BENCH_RUNTIMES="craterun=$CR runc=$RUNC" BENCH_N=$BENCH_N BENCH_PREFIX="$W/results-" \
            IMAGES="$W/images" RESULTS="$W/bench.tsv" LOGDIR="$W/logs/bench" WORK="$W/$suite-bench" "$HERE/$suite-test.sh"
    done
fi

# -- CRI: a pod with one container up and down, the handlers taking turns in one containerd --
if ((CRI_BENCH_N > 0)) && [[ " $SUITES " == *" cri "* ]]; then
    echo "== CRI pod timings ($CRI_BENCH_N runs per handler, alternating)"
    MODE=bench RUNTIME=$CR BENCH_RUNTIMES="craterun=$CR runc=$RUNC" BENCH_N=$CRI_BENCH_N BENCH_PREFIX="$W/results-" \
        IMAGES="$W/images" RESULTS="$W/bench.tsv" LOGDIR="$W/logs/bench" WORK="$W/cri-bench" "$HERE/cri-test.sh"
fi

# -- hygiene: nothing mounted under our temp dir, no new mount anywhere we made -----------
leftover_mounts=$(comm -13 <(echo "$mounts_before") <(awk '{ print $5 }' /proc/self/mountinfo | sort) | grep "^$W" || true)
if [[ -n $leftover_mounts ]]; then
    printf 'all\tno-mounts-left\tFAIL\t%s\n' "$(tr '\n' ' ' <<<"$leftover_mounts")" >>"$W/results-craterun.tsv"
    for m in $(sort -r <<<"$leftover_mounts"); do umount -l "$m" 2>/dev/null; done
fi

# -- the table ----------------------------------------------------------------------------
touch "$W/results-craterun.tsv" "$W/results-runc.tsv"
result() { awk -F'\t' -v s="$1" -v c="$2" -v k="$3" '$1 == s && $2 == c && ($3 == k || (k == "CHECK" && $3 != "BENCH")) { print $3 == "BENCH" ? $4 : $3; exit }' "$W/results-$4.tsv"; }
detail() { awk -F'\t' -v s="$1" -v c="$2" '$1 == s && $2 == c && $3 == "FAIL" { print $4; exit }' "$W/results-$3.tsv"; }
checks=$(cat "$W/results-craterun.tsv" "$W/results-runc.tsv" | awk -F'\t' '$3 != "BENCH" && !seen[$1 FS $2]++ { print $1 "\t" $2 }')

echo
printf '%-11s %-24s %-9s %-9s %s\n' SUITE CHECK craterun runc NOTE
printf '%-11s %-24s %-9s %-9s %s\n' ----- ----- -------- ---- ----
passed=0 failed=0 regressions=0
while IFS=$'\t' read -r suite name; do
    [[ -n $suite ]] || continue
    a=$(result "$suite" "$name" CHECK craterun); b=$(result "$suite" "$name" CHECK runc)
    a=${a:-MISSING}; b=${b:-MISSING}
    note=
    if [[ $a == PASS ]]; then ((passed++)); else
        ((failed++))
        if [[ $b == PASS ]]; then ((regressions++)); note="runc passes: $(detail "$suite" "$name" craterun)"
        else note="fails with runc too: $(detail "$suite" "$name" craterun)"; fi
    fi
    [[ -z $note && $b != PASS ]] && note="runc: $(detail "$suite" "$name" runc)"
    printf '%-11s %-24s %-9s %-9s %s\n' "$suite" "$name" "$a" "$b" "$note"
done <<<"$checks"

if ((BENCH_N > 0 || CRI_BENCH_N > 0)); then
    echo
    printf 'median wall time (ms)                     craterun   runc   ratio\n'
    for b in "podman|podman run --rm true|$BENCH_N" "containerd|ctr run --rm true|$BENCH_N" \
        "cri|crictl runp+create+start|$CRI_BENCH_N" "cri|crictl stopp+rmp|$CRI_BENCH_N" "cri|crictl pod cycle CPU|$CRI_BENCH_N"; do
        IFS='|' read -r s n k <<<"$b"
        [[ " $SUITES " == *" $s "* ]] && ((k > 0)) || continue
        a=$(result "$s" "$n" BENCH craterun); r=$(result "$s" "$n" BENCH runc)
        ratio=$(awk -v a="$a" -v r="$r" 'BEGIN { if (a + 0 > 0 && r + 0 > 0) printf "%.2fx", a / r; else print "-" }')
        printf '  %-38s %8s %6s %7s  (%s runs)\n' "$n" "${a:--}" "${r:--}" "$ratio" "$k"
    done
fi
echo
echo "client suites took ${elapsed}s"
if grep -q $'\tFAIL\t' "$W/results-craterun.tsv" "$W/results-runc.tsv"; then
    dest=${KEEP_LOGS:-$REPO/artifacts/clients-logs}
    mkdir -p "$dest" && cp -r "$W/logs/." "$dest/" && echo "logs kept in $dest"
fi
((regressions > 0)) && echo "$regressions check(s) pass with runc but fail with craterun"
echo "clients: $passed passed, $failed failed"
((failed == 0))
