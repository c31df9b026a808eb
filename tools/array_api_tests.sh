#!/usr/bin/env bash
# Run the official Array API test suite (github.com/data-apis/array-api-tests) against
# plugtorch.array_api on one device, or against array_api_strict for comparison.
#
#   tools/array_api_tests.sh SUITE [DEVICE] [PYTEST ARGS...]
#
#   SUITE   a checkout of data-apis/array-api-tests with its array-api submodule
#           (git clone --recurse-submodules https://github.com/data-apis/array-api-tests);
#           run here at 55fcc60 (2026-04-03). Since aaaaa8d (PR #430) the suite fails at import
#           for a library without complex dtypes (dtype_helpers.widest_complex_dtype is max() of
#           an empty list); tools/array_api_tests.patch (two lines) mends that in a scratch copy
#           of the suite, where it applies; the checkout itself is left untouched.
#   DEVICE  cpu (default), opencl, opencl:1, cuda, a plug-in's device type ..., or
#           "strict" to run array_api_strict itself through the same settings
#
# Seeded and bounded: standard 2024.12, --max-examples $MAX_EXAMPLES (default 20),
# --hypothesis-seed $SEED (default 0), no deadline, a fresh Hypothesis database each run (no
# examples replayed from an earlier run). Expected failures and skips come from one file,
# tools/array_api_tests_expected.txt (each with its reason and the devices it applies to).
# The suite needs ndindex and pytest-json-report; missing ones are installed into
# SUITE/.deps with pip. Extra arguments go to pytest (e.g. array_api_tests/test_sorting_functions.py).
# Prints the pytest summary, then one line: DEVICE passed/failed/skipped/xfailed counts.
set -euo pipefail

if [ $# -lt 1 ]; then
    sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
suite=$(cd "$1" && pwd)
device=${2:-cpu}
shift $(( $# >= 2 ? 2 : 1 ))
repo=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$repo/.venv/bin/python}
expected=$repo/tools/array_api_tests_expected.txt

if [ ! -d "$suite/array_api_tests" ] || [ ! -d "$suite/array-api/src/array_api_stubs" ]; then
    echo "$suite is not a checkout of data-apis/array-api-tests with its array-api submodule" >&2
    exit 2
fi

deps=$suite/.deps
export PYTHONPATH=$deps${PYTHONPATH:+:$PYTHONPATH}
if ! "$py" -c "import ndindex, pytest_jsonreport" 2>/dev/null; then
    "$py" -m pip install -q --target "$deps" --no-deps ndindex pytest-json-report pytest-metadata
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the expectations for this device: lines "xfail|skip DEVICES TEST-ID  # reason", DEVICES a
# comma-separated list of device types (cpu, opencl ...), "all" (every plugtorch device) or
# "strict" (the array_api_strict run); a TEST-ID written re:PATTERN stands for every collected
# test id the extended regular expression matches
dtype=${device%%:*}
awk -v dev="$dtype" -v out="$work" '
    /^(xfail|skip) / {
        id = $0
        sub(/[ \t]+#.*$/, "", id)                       # the reason
        sub(/^[a-z]+[ \t]+[^ \t]+[ \t]+/, "", id)      # the kind and the devices
        n = split($2, devs, ",")
        for (i = 1; i <= n; i++)
            if ((devs[i] == "all" && dev != "strict") || devs[i] == dev) { print id > (out "/" $1 "s.in"); break }
    }' "$expected"
touch "$work/xfails.in" "$work/skips.in"

export ARRAY_API_TESTS_VERSION=2024.12
# complex64/complex128 are tested (uint16/32/64, which plugtorch lacks, the suite leaves out by
# itself); COMPLEX=0 leaves the complex dtypes out, in both runs, as before plugtorch had them
if [ "${COMPLEX:-1}" = 0 ]; then
    export ARRAY_API_TESTS_SKIP_DTYPES=complex64,complex128
fi
export HYPOTHESIS_STORAGE_DIRECTORY=$work/hypothesis
if [ "$device" = strict ]; then
    export ARRAY_API_TESTS_MODULE="exec('import array_api_strict as xp; xp.set_array_api_strict_flags(api_version=\"2024.12\")')"
    unset PLUGTORCH_DEFAULT_DEVICE
else
    export ARRAY_API_TESTS_MODULE=plugtorch.array_api
    export PLUGTORCH_DEFAULT_DEVICE=$device
fi

# a scratch copy of the suite (the spec linked, not copied), mended by the patch where it applies
copy=$work/suite
mkdir "$copy"
for f in "$suite"/* "$suite"/.deps; do
    case ${f##*/} in array-api) ln -s "$f" "$copy/array-api" ;; *) [ -e "$f" ] && cp -r "$f" "$copy/" ;; esac
done
patched=no
if patch -d "$copy" -p1 --forward --dry-run -s < "$repo/tools/array_api_tests.patch" >/dev/null 2>&1; then
    patch -d "$copy" -p1 --forward -s < "$repo/tools/array_api_tests.patch" && patched=yes
fi
commit=$(git -C "$suite" rev-parse --short HEAD 2>/dev/null || echo '(commit unknown)')

cd "$copy"
start=$(date +%s)
if grep -q '^re:' "$work/xfails.in" "$work/skips.in"; then
    "$py" -m pytest array_api_tests -p no:cacheprovider -q -o addopts="" --collect-only 2>/dev/null \
        | grep '::' > "$work/ids" || true
fi
for kind in xfails skips; do
    while IFS= read -r id; do
        case $id in
            re:*) grep -E -- "${id#re:}" "$work/ids" || true ;;
            *) printf '%s\n' "$id" ;;
        esac
    done < "$work/$kind.in" > "$work/$kind.txt"
done
set +e
targets=array_api_tests
for a in "$@"; do case $a in array_api_tests*) targets= ;; esac; done
"$py" -m pytest $targets --rootdir "$copy" -p no:cacheprovider -q -o addopts="" \
    --max-examples "${MAX_EXAMPLES:-20}" --hypothesis-seed "${SEED:-0}" --disable-deadline \
    --skips-file "$work/skips.txt" --xfails-file "$work/xfails.txt" \
    -W ignore::UserWarning "$@" 2>&1 | tee "$work/log"
status=${PIPESTATUS[0]}
set -e
summary=$(grep -E '^=* ?[0-9]+ (passed|failed|skipped|xfailed|error)' "$work/log" | tail -1 || true)
count() { echo "$summary" | grep -oE "[0-9]+ $1" | grep -oE '[0-9]+' || echo 0; }
p=$(count passed); f=$(count failed); s=$(count skipped); x=$(count xfailed); xp=$(count xpassed); e=$(count error)
total=$((p + f + s + x + xp + e))
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", b ? 100 * a / b : 0 }'; }
echo "array-api-tests $commit (patched: $patched) on $device:" \
     "$p passed, $f failed, $s skipped, $x xfailed, $xp xpassed, $e errors of $total tests;" \
     "passed $(pct "$p" "$total") of all, $(pct "$p" $((total - s))) of those run;" \
     "$(( $(date +%s) - start )) s (MAX_EXAMPLES=${MAX_EXAMPLES:-20}, SEED=${SEED:-0})"
exit "$status"
