#!/usr/bin/env bash
# Builds every fuzz target of ws-proto and runs each for SECONDS (default 30)
# over its working corpus fuzz/corpus/NAME, seeded from fuzz/seeds/NAME, with
# its dictionary fuzz/dict/NAME.dict. Exits non-zero if any target finds a
# crash (or a timeout, or goes over the memory limit); the reproducer is left
# in fuzz/artifacts/NAME/.
#
#   fuzz/run.sh [SECONDS]        # from the repository root, or anywhere
#
# Environment: FUZZ_TARGETS="pair frame_header" runs only those targets.
set -euo pipefail

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
    echo "usage: fuzz/run.sh [SECONDS]" >&2
    exit 2
fi

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$fuzz_dir")"
cd "$repo"

# Tools: a nightly toolchain (libFuzzer needs -Zsanitizer and friends) and
# cargo-fuzz.
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "run.sh: installing the nightly toolchain" >&2
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

all_targets=(frame_header handshake_response client_connection server_connection pair proxy)
read -r -a targets <<<"${FUZZ_TARGETS:-${all_targets[*]}}"

echo "run.sh: building ${#all_targets[@]} fuzz targets" >&2
cargo +nightly fuzz build --debug-assertions --fuzz-dir "$fuzz_dir"

failed=()
for target in "${targets[@]}"; do
    corpus="$fuzz_dir/corpus/$target"
    mkdir -p "$corpus" "$fuzz_dir/artifacts/$target"
    # Seeds go into the working corpus; what the fuzzer found before stays.
    cp -n "$fuzz_dir/seeds/$target/"* "$corpus/" 2>/dev/null || true
    echo "run.sh: $target for ${seconds}s ($(find "$corpus" -type f | wc -l) inputs in its corpus)" >&2
    if cargo +nightly fuzz run --debug-assertions --fuzz-dir "$fuzz_dir" "$target" "$corpus" -- \
        -max_total_time="$seconds" \
        -dict="$fuzz_dir/dict/$target.dict" \
        -rss_limit_mb=2048 \
        -timeout=20 \
        -print_final_stats=1; then
        echo "run.sh: $target: no crash" >&2
    else
        echo "run.sh: $target FAILED; reproducer(s) in fuzz/artifacts/$target/:" >&2
        ls -t "$fuzz_dir/artifacts/$target/" | head -5 >&2 || true
        failed+=("$target")
    fi
done

if ((${#failed[@]})); then
    echo "run.sh: crashes in: ${failed[*]}" >&2
    exit 1
fi
echo "run.sh: ${#targets[@]} targets ran ${seconds}s each without a crash" >&2
