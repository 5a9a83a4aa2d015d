#!/usr/bin/env bash
# Runs the Autobahn TestSuite client cases (1.* to 10.*) against one of the
# project's drivers and fails unless every case is OK (or INFORMATIONAL,
# which those cases always are).
#
#   tests/autobahn/run.sh proto [ARGS...]   ws-proto over blocking std::net
#                                           (crates/ws-proto/examples/blocking_client.rs)
#   tests/autobahn/run.sh mio [ARGS...]     the ws-mio event loop
#                                           (crates/ws-mio/examples/autobahn_client.rs)
#
# ARGS go to the shared script, e.g. --cases '6.*'. The HTML report lands in
# ${TMPDIR:-/tmp}/autobahn-report-DRIVER/clients/index.html.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
suite="${AUTOBAHN_SUITE:-$root/../shared/tools/autobahn/run-client-suite.sh}"
driver="${1:-}"
case "$driver" in
    proto) package=ws-proto example=blocking_client ;;
    mio) package=ws-mio example=autobahn_client ;;
    *) echo "usage: $0 proto|mio [ARGS...]" >&2; exit 2 ;;
esac
shift
report="${TMPDIR:-/tmp}/autobahn-report-$driver"

cargo build --release -q -p "$package" --example "$example"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
bash "$suite" --exclude '12.*,13.*' --agent "ws-$driver" --report "$report" "$@" \
    -- "$root/target/release/examples/$example" | tee "$log"
if grep -E '^case .*(NON-STRICT|FAILED|UNIMPLEMENTED|WRONG)' "$log" >/dev/null; then
    echo "autobahn: some cases above are not OK (report: $report/clients/index.html)" >&2
    exit 1
fi
