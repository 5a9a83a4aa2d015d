#!/usr/bin/env bash
# Runs the Autobahn TestSuite client cases (1.* to 10.*; 12.* and 13.* need
# permessage-deflate) against one of the project's clients, and compares
# every case's result with tests/autobahn/expected.txt: any change, even
# from OK to NON-STRICT, fails.
#
#   tests/autobahn/run.sh [client|proto|mio] [ARGS...]
#     client (default)  ws-client's public API
#                       (crates/ws-client/examples/autobahn_client.rs)
#     proto             ws-proto over blocking std::net
#                       (crates/ws-proto/examples/blocking_client.rs)
#     mio               the ws-mio event loop
#                       (crates/ws-mio/examples/autobahn_mio.rs)
#
# ARGS go to the shared script, e.g. --cases '6.*' (then only those cases
# are compared). AUTOBAHN_UPDATE=1 rewrites expected.txt from the run
# instead of comparing. The HTML report lands in
# ${TMPDIR:-/tmp}/autobahn-report-DRIVER/clients/index.html. The last line
# printed is the shared script's summary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
suite="${AUTOBAHN_SUITE:-$root/../shared/tools/autobahn/run-client-suite.sh}"
expected="$here/expected.txt"
driver=client
case "${1:-}" in
    client | proto | mio) driver="$1"; shift ;;
esac
case "$driver" in
    client) package=ws-client example=autobahn_client ;;
    proto) package=ws-proto example=blocking_client ;;
    mio) package=ws-mio example=autobahn_mio ;;
esac
report="${TMPDIR:-/tmp}/autobahn-report-$driver"
agent="ws-$driver"

cargo build --release -q -p "$package" --example "$example"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
suite_rc=0
bash "$suite" --exclude '12.*,13.*' --agent "$agent" --report "$report" "$@" \
    -- "${CARGO_TARGET_DIR:-$root/target}/release/examples/$example" | tee "$log" || suite_rc=$?

compare_rc=0
python3 - "$report/clients/index.json" "$agent" "$expected" "${AUTOBAHN_UPDATE:-0}" "$*" <<'PY' || compare_rc=$?
import json, sys
index_path, agent, expected_path, update, args = sys.argv[1:6]
key = lambda c: [int(p) for p in c.split(".")]
try:
    results = json.load(open(index_path)).get(agent, {})
except (OSError, ValueError) as e:
    print("autobahn: no report to compare (%s)" % e)
    sys.exit(1)
got = {c: (r.get("behavior"), r.get("behaviorClose")) for c, r in results.items()}
if update == "1":
    with open(expected_path, "w") as f:
        f.write("# case behavior behaviorClose, as tests/autobahn/run.sh last recorded them\n")
        for c in sorted(got, key=key):
            f.write("%s %s %s\n" % (c, got[c][0], got[c][1]))
    print("autobahn: %d results written to %s" % (len(got), expected_path))
    sys.exit(0)
expected = {}
for line in open(expected_path):
    if line.strip() and not line.startswith("#"):
        c, b, bc = line.split()
        expected[c] = (b, bc)
diffs = []
for c in sorted(set(got) | set(expected), key=key):
    # With --cases, only the cases that ran are compared.
    if c not in got and "--cases" in args:
        continue
    if got.get(c) != expected.get(c):
        diffs.append("case %-8s expected %-28s got %s" % (c, "%s/%s" % expected.get(c, ("-", "-")), "%s/%s" % got.get(c, ("not run", "-"))))
for d in diffs:
    print(d)
if diffs:
    print("autobahn: %d case(s) differ from %s" % (len(diffs), expected_path))
    sys.exit(1)
print("autobahn: all %d cases as expected (%s)" % (len(got), expected_path))
PY
# The shared script's summary line, last.
grep -E '^autobahn: [0-9]+ passed' "$log" | tail -1 || true
if [ "$suite_rc" -ne 0 ] || [ "$compare_rc" -ne 0 ]; then
    echo "autobahn: report at $report/clients/index.html" >&2
    exit 1
fi
