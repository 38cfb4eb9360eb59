#!/usr/bin/env bash
# Instructions per call of one function of the per_call benchmark, under valgrind's callgrind:
# exact and repeatable where wall-clock medians on a shared machine move by ±20%.
#
#   benches/callgrind.sh per_call/emits_event_ok annotated
#   benches/callgrind.sh per_call/tracing_instrument_ok instrumented
#   benches/callgrind.sh build/annotated_success_to_one_subscriber annotated
#   benches/callgrind.sh build/success_event_to_one_subscriber built_and_emitted
#
# The first argument picks the benchmark (criterion's filter), the second the function of
# benches/per_call.rs whose calls are counted: only instructions inside it are collected
# (`--toggle-collect`), and the total is divided by the number of its calls. Needs valgrind
# (Debian's `valgrind`).
set -euo pipefail
bench=$1
function=$2
cd "$(dirname "$0")/.."
binary=$(cargo bench -p tidings --bench per_call --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "per_call" and m.get("executable"):
        print(m["executable"])')
# CALLGRIND_OUT=file keeps the profile, for `callgrind_annotate --inclusive=yes file`;
# PROFILE_TIME=8 runs longer (more calls: a growing store's rehashes weigh less per call).
out=${CALLGRIND_OUT:-$(mktemp)}
valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="*per_call::$function" \
  "$binary" --bench "$bench" --profile-time "${PROFILE_TIME:-2}" >/dev/null 2>&1
python3 - "$out" "$function" <<'PY'
import re, sys
path, function = sys.argv[1], sys.argv[2]
data = open(path).read()
total = int(re.search(r"^(?:summary|totals): (\d+)", data, flags=re.M).group(1))
names = {m.group(1): m.group(2) for m in re.finditer(r"^c?fn=\((\d+)\) (.*)$", data, flags=re.M)}
wanted = {k for k, v in names.items() if v.endswith("per_call::" + function)}
lines = data.splitlines()
calls = 0
for i, line in enumerate(lines):
    m = re.match(r"^cfn=\((\d+)\)", line)
    if m and m.group(1) in wanted:
        n = re.match(r"calls=(\d+)", lines[i + 1])
        if n:
            calls += int(n.group(1))
print(f"{function}: {total} instructions over {calls} calls: {total / calls:.0f} per call")
PY
[ -n "${CALLGRIND_OUT:-}" ] || rm -f "$out"
