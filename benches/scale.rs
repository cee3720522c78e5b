//! The opaque flow and its steps with 1,000,000 outstanding codes and 1,000,000 issued grants
//! in the store, against an empty store; and the memory each takes. See BENCHMARKS.md.
//!
//! Memory is the growth of the process's resident set (/proc/self/statm) while the store
//! fills: what the allocator really holds, hash-table slack and allocation headers included.
//! Without `--bench`, or with `--test` (as in `cargo test --benches`, `cargo bench -- --test`),
//! it fills 2,000 of each, not 1,000,000 (`GRANTOR_BENCH_GRANTS` sets the number).
//!
//! With `GRANTOR_BENCH_PAIRED=<rounds>`, it skips criterion after the prefill and times the
//! flow in paired rounds instead: each round resets both stores and times 4,096 flows on the
//! empty one, then 4,096 on the full one, and the median of the rounds' ratios is printed.
//! Criterion times every sample of one group before the other's, so on a machine whose speed
//! drifts between seconds, the ratio of its medians drifts with it; back to back, it does not.
//! The same is then done for oxide-auth's flow (SHA-256 policy), for comparison: an endpoint
//! filled with as many outstanding codes and issued token pairs, against a fresh one per
//! round. oxide-auth's maps only grow while they are timed (it has no purge), by 4,096 flows
//! per round. `GRANTOR_BENCH_NO_OXIDE=1` leaves oxide-auth out (its prefill takes most of the
//! run), and `GRANTOR_BENCH_VERBOSE=1` prints each round's times and ratio to stderr, to see
//! how far the rounds spread around their median.

mod common;

use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;

use common::oxide::Oxide;
use common::{store_steps, Bench, Kind, T0};

/// Where the prefill happens: its entries outlive every purge the benches make at `T0`.
const PREFILL_AT: u64 = T0 + 100_000_000;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Fills `bench`'s store with `n` outstanding codes, then `n` exchanged grants (a spent code,
/// an access token and a refresh token each), printing the memory each took; returns the bytes
/// per code and per exchanged grant.
fn prefill(bench: &Bench, n: u64) -> (f64, f64) {
    bench.clock.set(PREFILL_AT);
    let per_entry = fill(
        "memory",
        "exchanged grants (spent code + access token + refresh token)",
        &mut &*bench,
        n,
        |b| b.authorize(),
        |b, code| drop(black_box(b.exchange(code))),
    );
    bench.clock.set(T0);
    per_entry
}

/// Makes `n` codes with `authorize` and leaves them outstanding, then `n` more that
/// `exchange` redeems (`grants` says what each leaves behind), printing the growth of the
/// resident set per entry (every quarter for the codes) under the label `who`; returns the
/// bytes per outstanding code and per exchanged grant.
fn fill<T>(
    who: &str,
    grants: &str,
    target: &mut T,
    n: u64,
    authorize: impl Fn(&mut T) -> String,
    exchange: impl Fn(&mut T, &str),
) -> (f64, f64) {
    let steps = 4;
    let start = rss_bytes();
    let mut last = start;
    let t = Instant::now();
    for step in 1..=steps {
        for _ in 0..n / steps {
            black_box(authorize(target));
        }
        let now = rss_bytes();
        println!(
            "{who}: {:>8} outstanding codes: {:>6.0} B per code over the last {} ({:.0} B on average)",
            n / steps * step,
            (now - last) as f64 / (n / steps) as f64,
            n / steps,
            (now - start) as f64 / (n / steps * step) as f64,
        );
        last = now;
    }
    let codes = rss_bytes();
    println!(
        "{who}: {n} outstanding codes: {:.0} B per code; filled in {:.1?}",
        (codes - start) as f64 / n as f64,
        t.elapsed()
    );
    let t = Instant::now();
    for _ in 0..n {
        let code = authorize(target);
        exchange(target, &code);
    }
    let filled = rss_bytes();
    println!(
        "{who}: {n} {grants}: {:.0} B per grant; filled in {:.1?}",
        (filled - codes) as f64 / n as f64,
        t.elapsed()
    );
    (
        (codes - start) as f64 / n as f64,
        (filled - codes) as f64 / n as f64,
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let full_run = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let n: u64 = std::env::var("GRANTOR_BENCH_GRANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full_run { 1_000_000 } else { 2_000 });
    let empty = Bench::new(Kind::Opaque);
    let full = Bench::new(Kind::Opaque);
    // Warm both (allocator, lazily built state) before measuring memory.
    black_box(empty.flow());
    black_box(full.flow());
    let (per_code, per_grant) = prefill(&full, n);
    if full_run {
        // For benches/summary.py, next to criterion's own results.
        let _ = std::fs::create_dir_all("target/criterion");
        let _ = std::fs::write(
            "target/criterion/memory.json",
            format!(
                r#"{{"grants":{n},"bytes_per_code":{per_code:.0},"bytes_per_exchanged_grant":{per_grant:.0}}}"#
            ),
        );
    }

    if let Some(rounds) = std::env::var("GRANTOR_BENCH_PAIRED")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        paired(&empty, &full, rounds);
        if std::env::var_os("GRANTOR_BENCH_NO_OXIDE").is_none() {
            paired_oxide(n, rounds);
        }
        return;
    }

    let mut c = Criterion::default().configure_from_args();
    let label = if n == 1_000_000 {
        "1M".to_owned()
    } else {
        n.to_string()
    };
    for (name, bench) in [("empty", &empty), (label.as_str(), &full)] {
        let mut g = c.benchmark_group(format!("scale_{name}"));
        g.bench_function("flow", |b| b.iter_custom(|iters| bench.timed_flows(iters)));
        store_steps(&mut g, bench);
        g.finish();
    }
    c.final_summary();
}

/// Flows per round of the paired modes.
const FLOWS: u64 = 4_096;

/// See the module's doc: `rounds` back-to-back timings of the flow on `empty` and on `full`.
fn paired(empty: &Bench, full: &Bench, rounds: usize) {
    paired_rounds("flow", rounds, || {
        (
            empty.timed_flows(FLOWS).as_secs_f64(),
            full.timed_flows(FLOWS).as_secs_f64(),
        )
    });
}

/// oxide-auth's flow, with an endpoint holding `n` outstanding codes and `n` exchanged grants
/// (as [`prefill`] fills grantor's store, printing the memory each took), against a fresh
/// endpoint per round.
fn paired_oxide(n: u64, rounds: usize) {
    let mut full = Oxide::new(true);
    black_box(full.flow());
    fill(
        "oxide-auth memory",
        "exchanged grants (access token + refresh token)",
        &mut full,
        n,
        Oxide::authorize,
        |o, code| drop(black_box(o.exchange(code))),
    );
    let time = |oxide: &mut Oxide| common::time_runs(FLOWS, || oxide.flow()).as_secs_f64();
    paired_rounds("oxide-auth flow", rounds, || {
        let mut empty = Oxide::new(true);
        black_box(empty.flow());
        (time(&mut empty), time(&mut full))
    });
}

/// Runs `round` (which times [`FLOWS`] flows on the empty side, then on the full one, in
/// seconds) `rounds` times, and prints the median time per flow of each side and the median
/// of the rounds' ratios.
fn paired_rounds(what: &str, rounds: usize, mut round: impl FnMut() -> (f64, f64)) {
    let names = [
        format!("paired {what}, empty"),
        format!("paired {what}, full"),
        format!("paired {what}, full/empty"),
    ];
    let per_flow = |seconds: f64| seconds / FLOWS as f64 * 1e6;
    common::medians(
        rounds as u64,
        [(&names[0], " us"), (&names[1], " us"), (&names[2], "x")],
        2,
        || {
            let (e, f) = round();
            if std::env::var_os("GRANTOR_BENCH_VERBOSE").is_some() {
                let (e, f, ratio) = (per_flow(e), per_flow(f), f / e);
                eprintln!("{what} round: empty {e:.2} us, full {f:.2} us, {ratio:.3}x");
            }
            [per_flow(e), per_flow(f), f / e]
        },
    );
}
