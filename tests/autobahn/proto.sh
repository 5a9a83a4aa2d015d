#!/usr/bin/env bash
# Runs the Autobahn TestSuite client cases (1.* to 10.*) against ws-proto's
# blocking example client (crates/ws-proto/examples/blocking_client.rs) and
# fails unless every case is OK (or INFORMATIONAL, which those cases always
# are). Extra arguments go to the shared script, e.g. --cases '6.*'.
# The report lands in ${TMPDIR:-/tmp}/autobahn-report-proto/clients/index.html.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
suite="${AUTOBAHN_SUITE:-$root/../shared/tools/autobahn/run-client-suite.sh}"
report="${TMPDIR:-/tmp}/autobahn-report-proto"

cargo build --release -q -p ws-proto --example blocking_client
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
bash "$suite" --exclude '12.*,13.*' --agent ws-proto --report "$report" "$@" \
    -- "$root/target/release/examples/blocking_client" | tee "$log"
if grep -E '^case .*(NON-STRICT|FAILED|UNIMPLEMENTED|WRONG)' "$log" >/dev/null; then
    echo "autobahn: some cases above are not OK (report: $report/clients/index.html)" >&2
    exit 1
fi
