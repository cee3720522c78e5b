//! grantor's cost, in process, with the in-memory stores. See BENCHMARKS.md.
//!
//! * `flow/<kind>`: authorize (signed in, consent remembered) → code exchange
//!   (client_secret_basic, PKCE S256) → one refresh; opaque access tokens, or JWT access and ID
//!   tokens signed with RS256, ES256 or EdDSA.
//! * `floor/<kind>`: only the hashes, random draws and signatures that flow needs.
//! * `harness/request_io`: the request building and response reading the flow bench does.
//! * `step/<endpoint>`: each step alone.
//! * `oxide/…`: the same opaque flow on oxide-auth, with a SHA-256 and its default Argon2
//!   secret check.
//! * `threads/{1,2}`: the opaque flow on one and on two threads sharing one server.
//! * `threads_own/{1,2}`: the same with a server and stores of its own per thread.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use grantor::SigningAlgorithm;

use common::oxide::Oxide;
use common::{
    block_on, code_of, on_threads, step, store_steps, time_runs, tokens_of, Bench, Floor, Kind,
};

fn flows(c: &mut Criterion) {
    let mut flow = c.benchmark_group("flow");
    for kind in Kind::ALL {
        let bench = Bench::new(kind);
        flow.bench_function(kind.name(), |b| {
            b.iter_custom(|iters| bench.timed_flows(iters))
        });
    }
    flow.finish();

    let mut floor = c.benchmark_group("floor");
    for kind in Kind::ALL {
        let f = Floor::new(&Bench::new(kind));
        floor.bench_function(kind.name(), |b| b.iter(|| black_box(f.run())));
    }
    floor.finish();

    let bench = Bench::new(Kind::Opaque);
    let harness = common::Harness::new(&bench);
    c.bench_function("harness/request_io", |b| {
        b.iter(|| black_box(harness.run(&bench)))
    });
}

fn steps(c: &mut Criterion) {
    let mut g = c.benchmark_group("step");
    let bench = Bench::new(Kind::Opaque);
    let server = &bench.server;
    store_steps(&mut g, &bench);
    step(
        &mut g,
        "client_credentials",
        &bench,
        || || bench.client_credentials_request(),
        |r| block_on(server.token(r)),
    );
    for kind in [Kind::OpaqueOidc, Kind::Jwt(SigningAlgorithm::EdDSA)] {
        let bench = &Bench::new(kind);
        step(
            &mut g,
            &format!("userinfo_{}", kind.name()),
            bench,
            || {
                let (at, _) = bench.flow();
                move || bench.userinfo_request(&at)
            },
            |r| block_on(bench.server.userinfo(r)),
        );
    }
    g.finish();
}

fn versus_oxide(c: &mut Criterion) {
    let mut g = c.benchmark_group("oxide");
    g.bench_function("flow_sha256", |b| {
        b.iter_custom(|iters| {
            let mut oxide = Oxide::new(true);
            time_runs(iters, || oxide.flow())
        })
    });
    g.finish();
    // ~0.2 s per token request: ten single-iteration samples.
    let mut g = c.benchmark_group("oxide_default");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("flow_argon2", |b| {
        let mut oxide = Oxide::new(false);
        b.iter(|| black_box(oxide.flow()))
    });
    g.finish();
}

fn threads(c: &mut Criterion) {
    // The control: the flow's crypto floor shares nothing between threads, so its scaling is
    // what the machine allows (two cores shared with other work).
    let mut g = c.benchmark_group("threads_floor");
    let floor = Floor::new(&Bench::new(Kind::Opaque));
    for n in [1u64, 2] {
        g.throughput(Throughput::Elements(n));
        g.bench_function(n.to_string(), |b| {
            b.iter_custom(|iters| {
                on_threads(n, iters, |_| {
                    black_box(floor.run());
                })
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("threads");
    let bench = Bench::new(Kind::Opaque);
    for n in [1u64, 2] {
        g.throughput(Throughput::Elements(n));
        g.bench_function(n.to_string(), |b| {
            b.iter_custom(|iters| {
                bench.reset();
                on_threads(n, iters, |_| {
                    black_box(bench.flow());
                })
            })
        });
    }
    g.finish();
    // The same flow with a server and stores of its own per thread: what the flow's code
    // allows when no lock or reference count is shared (against `threads`, what sharing one
    // server's in-memory stores costs).
    let mut g = c.benchmark_group("threads_own");
    let benches = [Bench::new(Kind::Opaque), Bench::new(Kind::Opaque)];
    for n in [1u64, 2] {
        g.throughput(Throughput::Elements(n));
        g.bench_function(n.to_string(), |b| {
            b.iter_custom(|iters| {
                for bench in &benches {
                    bench.reset();
                }
                on_threads(n, iters, |thread| {
                    black_box(benches[thread].flow());
                })
            })
        });
    }
    g.finish();
}

/// Every flow answers what it should (run once, also in `cargo test --benches`).
fn sanity() {
    for kind in Kind::ALL {
        let bench = Bench::new(kind);
        let [a, e, r] = bench.flow_responses();
        code_of(&a);
        for t in [&e, &r] {
            let (at, rt) = tokens_of(t);
            assert!(!rt.is_empty());
            assert_eq!(
                at.matches('.').count(),
                if kind == Kind::Opaque { 0 } else { 2 }
            );
            let id_token = common::json_str(t.body(), "id_token");
            assert_eq!(id_token.is_some(), kind != Kind::Opaque);
        }
    }
    let bench = Bench::new(Kind::Opaque);
    let (at, _) = bench.flow();
    let r = block_on(bench.server.introspect(bench.introspection_request(&at)));
    assert!(r.body().starts_with(br#"{"active":true"#), "{r:?}");
    tokens_of(&block_on(
        bench.server.token(bench.client_credentials_request()),
    ));
    for kind in [Kind::OpaqueOidc, Kind::Jwt(SigningAlgorithm::EdDSA)] {
        let bench = Bench::new(kind);
        let (at, _) = bench.flow();
        let r = block_on(bench.server.userinfo(bench.userinfo_request(&at)));
        assert!(r.status().is_success(), "{r:?}");
        assert!(common::json_str(r.body(), "sub").is_some());
    }
    let mut oxide = Oxide::new(true);
    oxide.flow();
}

fn all(c: &mut Criterion) {
    sanity();
    flows(c);
    steps(c);
    versus_oxide(c);
    threads(c);
}

criterion_group!(benches, all);
criterion_main!(benches);
