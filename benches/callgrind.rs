//! A driver for instruction counts (BENCHMARKS.md, "Profiling"): runs the opaque flow, its
//! crypto floor or the harness `N` times after one warm-up flow, so that under
//! `valgrind --tool=callgrind` (N runs) − (0 runs), divided by N, is the instructions per run,
//! whatever else the machine is doing.
//!
//! `cargo bench --bench callgrind --no-run`, then
//! `valgrind --tool=callgrind target/release/deps/callgrind-<hash> N WHAT`, WHAT one of `flow`,
//! `floor`, `harness` or `oxide` (oxide-auth's flow, with the SHA-256 secret check). Without
//! arguments (as in `cargo test --benches`) it runs nothing but the warm-up.
//!
//! `steady` runs the flow as the criterion bench does, resetting the store every 4,096 flows,
//! for a sampling profiler: `perf record -e cpu-clock --call-graph dwarf <binary> 300000 steady`.
//! `small` purges the store every 256 flows instead (a store that stays small and hot): the
//! difference between the two, timed, is what the store's size costs.

mod common;

use std::hint::black_box;

use common::{Bench, Floor, Kind};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: u64 = args.first().and_then(|v| v.parse().ok()).unwrap_or(0);
    let what = args.get(1).map(String::as_str).unwrap_or("flow");
    let bench = Bench::new(Kind::Opaque);
    let floor = Floor::new(&bench);
    let harness = common::Harness::new(&bench);
    let mut oxide = common::oxide::Oxide::new(true);
    black_box(oxide.flow());
    black_box(bench.flow());
    black_box(floor.run());
    black_box(harness.run(&bench));
    for i in 0..n {
        match what {
            "floor" => {
                black_box(floor.run());
            }
            "oxide" => {
                black_box(oxide.flow());
            }
            "harness" => {
                black_box(harness.run(&bench));
            }
            "small" => {
                if i % 256 == 0 {
                    bench.grants.purge_expired(common::PURGE_AT);
                }
                black_box(bench.flow());
            }
            "steady" => {
                if i % 4096 == 0 {
                    bench.reset();
                }
                black_box(bench.flow());
            }
            _ => {
                black_box(bench.flow());
            }
        }
    }
}
