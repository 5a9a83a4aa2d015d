//! `ws-suite`: the workspace's cross-crate integration tests (`tests/`) and
//! comparative benchmarks (`benches/`). The library itself is empty.
