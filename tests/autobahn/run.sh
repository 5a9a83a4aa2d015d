#!/usr/bin/env bash
# Runs the Autobahn TestSuite client cases against one of the project's
# clients, and compares every case's result with tests/autobahn/expected.txt:
# any change, even from OK to NON-STRICT, fails.
#
#   tests/autobahn/run.sh [client|proto|mio|tokio] [ARGS...]
#     client (default)  ws-client's public API, all cases including the
#                       permessage-deflate ones, 12.* and 13.*
#                       (crates/ws-client/examples/autobahn_client.rs)
#     proto             ws-proto over blocking std::net, 1.* to 10.*
#                       (crates/ws-proto/examples/blocking_client.rs)
#     mio               the ws-mio event loop, 1.* to 10.*
#                       (crates/ws-mio/examples/autobahn_mio.rs)
#     tokio             ws-tokio's public API on a current-thread runtime,
#                       all cases including 12.* and 13.*
#                       (crates/ws-tokio/examples/autobahn_tokio.rs)
# proto and mio do not offer deflate: 12.* and 13.* (8 minutes of large
# compressed messages) run through ws-client and ws-tokio, whose deflate is
# ws-proto's.
#
# ARGS go to the shared script, e.g. --cases '6.*' (then only those cases
# are compared). AUTOBAHN_UPDATE=1 writes the cases that ran into
# expected.txt instead of comparing (the others are kept). The HTML report
# lands in
# ${TMPDIR:-/tmp}/autobahn-report-DRIVER/clients/index.html. The last line
# printed is the shared script's summary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
suite="${AUTOBAHN_SUITE:-$root/../shared/tools/autobahn/run-client-suite.sh}"
expected="$here/expected.txt"
driver=client
case "${1:-}" in
    client | proto | mio | tokio) driver="$1"; shift ;;
esac
case "$driver" in
    client) package=ws-client example=autobahn_client exclude='' ;;
    proto) package=ws-proto example=blocking_client exclude='12.*,13.*' ;;
    mio) package=ws-mio example=autobahn_mio exclude='12.*,13.*' ;;
    tokio) package=ws-tokio example=autobahn_tokio exclude='' ;;
esac
report="${TMPDIR:-/tmp}/autobahn-report-$driver"
agent="ws-$driver"

cargo build --release -q -p "$package" --example "$example"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
suite_rc=0
bash "$suite" --exclude "$exclude" --agent "$agent" --report "$report" "$@" \
    -- "${CARGO_TARGET_DIR:-$root/target}/release/examples/$example" | tee "$log" || suite_rc=$?

compare_rc=0
python3 - "$report/clients/index.json" "$agent" "$expected" "${AUTOBAHN_UPDATE:-0}" "$exclude" "$*" <<'PY' || compare_rc=$?
import fnmatch, json, sys
index_path, agent, expected_path, update, exclude, args = sys.argv[1:7]
key = lambda c: [int(p) for p in c.split(".")]
try:
    results = json.load(open(index_path)).get(agent, {})
except (OSError, ValueError) as e:
    print("autobahn: no report to compare (%s)" % e)
    sys.exit(1)
got = {c: (r.get("behavior"), r.get("behaviorClose")) for c, r in results.items()}
expected = {}
for line in open(expected_path):
    if line.strip() and not line.startswith("#"):
        c, b, bc = line.split()
        expected[c] = (b, bc)
if update == "1":
    expected.update(got)
    with open(expected_path, "w") as f:
        f.write("# case behavior behaviorClose, as tests/autobahn/run.sh last recorded them\n")
        for c in sorted(expected, key=key):
            f.write("%s %s %s\n" % (c, expected[c][0], expected[c][1]))
    print("autobahn: %d results written to %s" % (len(got), expected_path))
    sys.exit(0)
excluded = [p for p in exclude.split(",") if p]
diffs = []
for c in sorted(set(got) | set(expected), key=key):
    # With --cases, only the cases that ran are compared; a driver's
    # excluded cases are never compared.
    if c not in got and ("--cases" in args or any(fnmatch.fnmatch(c, p) for p in excluded)):
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
