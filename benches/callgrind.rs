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
//!
//! `threads` (not for callgrind) measures scaling from one thread to two in `N` paired
//! rounds: each round times 2,000 flows on one thread, then 2,000 on each of two threads,
//! for the crypto floor, the flow on one shared server and the flow on a server per thread,
//! and it prints the median of each round's ratio. On a shared machine whose speed drifts by
//! tens of percent from one second to the next, timing the two sides back to back is what
//! keeps their ratio steady, where criterion times all of one before all of the other.
//!
//! `overhead` (not for callgrind either) does the same for the flow's own cost: `N` rounds,
//! each timing 4,096 flows (after a reset, as a criterion sample does), then as many crypto
//! floors, harness runs and oxide-auth flows (a fresh oxide-auth server, as its bench does),
//! and prints the median per-round overhead (flow − floor − harness) and oxide-auth ratio.
//!
//! `boxes` (not for callgrind) prices two things the flow does because of the host-facing
//! API, in `N` paired rounds: its 12 calls through `#[async_trait]` traits (each boxes its
//! future; a 200-byte record moved in, as the grant store's methods take one) against the
//! same calls to a plain `async fn`, and its 16 owned record strings (`Box<str>` cloned into
//! a record or out of a store block, then dropped) against borrowing them.

mod common;

use std::hint::black_box;

use common::{medians, Bench, Floor, Kind};

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
    if what == "threads" {
        return threads(n);
    }
    if what == "overhead" {
        return overhead(n, &bench, &floor, &harness);
    }
    if what == "boxes" {
        return boxes(n);
    }
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

/// See the module's doc: `rounds` paired measurements of one thread against two.
fn threads(rounds: u64) {
    const FLOWS: u64 = 2_000;
    let shared = Bench::new(Kind::Opaque);
    let own = [Bench::new(Kind::Opaque), Bench::new(Kind::Opaque)];
    let floor = Floor::new(&shared);
    let pair = |work: &(dyn Fn(usize) + Sync)| {
        let one = common::on_threads(1, FLOWS, work);
        let two = common::on_threads(2, FLOWS, work);
        2.0 * one.as_secs_f64() / two.as_secs_f64()
    };
    let names = [
        ("floor, 1 -> 2 threads", "x"),
        ("shared, 1 -> 2 threads", "x"),
        ("own, 1 -> 2 threads", "x"),
    ];
    medians(rounds, names, 2, || {
        let alone = pair(&|_| {
            black_box(floor.run());
        });
        shared.reset();
        let one_server = pair(&|_| drop(black_box(shared.flow())));
        for bench in &own {
            bench.reset();
        }
        let per_thread = pair(&|thread| drop(black_box(own[thread].flow())));
        [alone, one_server, per_thread]
    });
}

/// See the module's doc: `rounds` back-to-back timings of the flow, its floor, the harness
/// and oxide-auth's flow, in µs per run.
fn overhead(rounds: u64, bench: &Bench, floor: &Floor, harness: &common::Harness) {
    const RUNS: u64 = 4_096;
    let per_run = |time: std::time::Duration| time.as_secs_f64() * 1e6 / RUNS as f64;
    let names = [
        ("flow", " us"),
        ("floor", " us"),
        ("harness", " us"),
        ("oxide-auth flow", " us"),
        ("overhead", " us"),
        ("oxide-auth / flow", "x"),
    ];
    medians(rounds, names, 2, || {
        let flow = per_run(bench.timed_flows(RUNS));
        let floor = per_run(common::time_runs(RUNS, || floor.run()));
        let harness = per_run(common::time_runs(RUNS, || harness.run(bench)));
        let mut oxide = common::oxide::Oxide::new(true);
        let oxide = per_run(common::time_runs(RUNS, || oxide.flow()));
        [
            flow,
            floor,
            harness,
            oxide,
            flow - floor - harness,
            oxide / flow,
        ]
    });
}

/// A record of the size the grant store's methods take by value.
#[derive(Clone, Copy)]
struct Record([u64; 25]);

#[async_trait::async_trait]
trait BoxedStore: Send + Sync {
    async fn put(&self, record: Record) -> Result<u64, ()>;
}

struct Store;

#[async_trait::async_trait]
impl BoxedStore for Store {
    async fn put(&self, record: Record) -> Result<u64, ()> {
        Ok(black_box(record).0[0])
    }
}

impl Store {
    async fn put_direct(&self, record: Record) -> Result<u64, ()> {
        Ok(black_box(record).0[0])
    }
}

/// The flow's 12 host calls, each awaited in turn.
fn calls<F: std::future::Future<Output = Result<u64, ()>>>(call: impl Fn(Record) -> F) -> u64 {
    common::block_on(async {
        let mut sum = 0;
        for _ in 0..12 {
            sum += call(black_box(Record([7; 25]))).await.unwrap_or(0);
        }
        sum
    })
}

/// See the module's doc: what boxing a host call's future and owning a record's strings
/// cost per flow (12 calls, 16 strings), in ns, as the median of `rounds` paired rounds.
fn boxes(rounds: u64) {
    const RUNS: u64 = 4_096;
    let per_run = |time: std::time::Duration| time.as_secs_f64() * 1e9 / RUNS as f64;
    let store = Store;
    // Behind `black_box`, so that the compiler cannot see the concrete type and inline the
    // call (and elide the box), as it cannot for a host's store.
    let boxed: &dyn BoxedStore = black_box(&store);
    // Strings of a flow's record fields: client ids, redirect URIs, subjects, scopes.
    let fields: Vec<Box<str>> = [
        "web-app",
        "https://client.example.com/callback",
        "alice",
        "read write",
    ]
    .iter()
    .cycle()
    .take(16)
    .map(|s| Box::from(*s))
    .collect();
    let names = [
        ("12 boxed calls", " ns"),
        ("12 direct calls", " ns"),
        ("16 owned strings", " ns"),
        ("16 borrowed strings", " ns"),
    ];
    medians(rounds, names, 0, || {
        let via_box = per_run(common::time_runs(RUNS, || calls(|r| boxed.put(r))));
        let direct = per_run(common::time_runs(RUNS, || calls(|r| store.put_direct(r))));
        let owned = per_run(common::time_runs(RUNS, || {
            fields
                .iter()
                .map(|f| black_box(black_box(f).clone()).len())
                .sum::<usize>()
        }));
        let borrowed = per_run(common::time_runs(RUNS, || {
            fields
                .iter()
                .map(|f| black_box(&**black_box(f)).len())
                .sum::<usize>()
        }));
        [via_box, direct, owned, borrowed]
    });
}
