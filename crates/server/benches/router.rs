//! The server's hot path without sockets: one request through the router
//! (preconditions, handler, the recipient's outbox), and the fan-out of one
//! message to 1,000 local recipients, each drained the way its session
//! drains it. `cargo bench -p chinwag-server --bench router`.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use chinwag_proto::request::{Broadcast, Hello, Register, Transfer};
use chinwag_proto::{ByteString, Request, ServerFrame};
use chinwag_server::Config;
use chinwag_server::auth::AdminSecret;
use chinwag_server::cmd::{self, Ctx, Now};
use chinwag_server::outbox::Outbox;
use chinwag_server::session::Conn;
use chinwag_server::state::State;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const TEXT: &str = "0:1f:3b9aca00|..................................................";

/// A connection that said HELLO and registered as `name`, through the
/// router, as a session would.
fn registered(state: &Arc<State>, name: &str) -> Conn {
    let addr: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let config = &state.config;
    let outbox = Arc::new(Outbox::new(config.outbox_frames, config.outbox_bytes));
    let mut conn = Conn::new(state.next_conn_id(), addr, outbox);
    let mut ctx = Ctx {
        state,
        conn: &mut conn,
        now: Now::current(),
    };
    cmd::dispatch(&mut ctx, Request::Hello(Hello::current("bench"))).unwrap();
    let register = Register {
        name: name.into(),
        ip: "".into(),
        port: 0,
        password: "".into(),
    };
    cmd::dispatch(&mut ctx, Request::Register(register)).unwrap();
    conn
}

fn state() -> Arc<State> {
    State::new(Config::default(), AdminSecret::new("bench".into()))
}

/// One TRANSFER through the router, and the recipient's session moving it
/// into its write buffer.
fn dispatch(c: &mut Criterion) {
    let state = state();
    let mut alice = registered(&state, "alice");
    let bob = registered(&state, "bob");
    let mut out = BytesMut::with_capacity(64 * 1024);
    bob.outbox.drain_into(&mut out);
    let content = ByteString::from(TEXT);

    let mut group = c.benchmark_group("dispatch");
    group.throughput(Throughput::Elements(1));
    group.bench_function("transfer", |b| {
        b.iter(|| {
            let mut ctx = Ctx {
                state: &state,
                conn: &mut alice,
                now: Now::current(),
            };
            let request = Request::Transfer(Transfer {
                src: "".into(),
                dst: "bob".into(),
                content: content.clone(),
            });
            let reply = cmd::dispatch(&mut ctx, black_box(request));
            assert!(matches!(reply, Ok(ServerFrame::Sent(_))));
            out.clear();
            bob.outbox.drain_into(&mut out);
        })
    });
    group.bench_function("ping", |b| {
        b.iter(|| {
            let mut ctx = Ctx {
                state: &state,
                conn: &mut alice,
                now: Now::current(),
            };
            black_box(cmd::dispatch(&mut ctx, Request::Ping).unwrap());
        })
    });
    group.finish();
}

/// One BROADCAST reaching 1,000 recipients: encoded once, queued on every
/// outbox, then drained by each recipient.
fn fan_out(c: &mut Criterion) {
    const RECIPIENTS: usize = 1000;
    // No join notices: set-up stays quiet and the outboxes start empty.
    let config = Config {
        presence_limit: 0,
        ..Config::default()
    };
    let state = State::new(config, AdminSecret::new("bench".into()));
    let mut sender = registered(&state, "sender");
    let recipients: Vec<Conn> = (0..RECIPIENTS)
        .map(|i| registered(&state, &format!("member{i}")))
        .collect();
    let mut out = BytesMut::with_capacity(64 * 1024);
    let content = ByteString::from(TEXT);

    let mut group = c.benchmark_group("fan_out");
    group.throughput(Throughput::Elements(RECIPIENTS as u64));
    group.bench_function("broadcast_1000", |b| {
        b.iter(|| {
            let mut ctx = Ctx {
                state: &state,
                conn: &mut sender,
                now: Now::current(),
            };
            let request = Request::Broadcast(Broadcast {
                src: "".into(),
                content: content.clone(),
            });
            let reply = cmd::dispatch(&mut ctx, request);
            assert!(matches!(reply, Ok(ServerFrame::Sent(s)) if s.recipients == RECIPIENTS as u32));
            for conn in &recipients {
                out.clear();
                conn.outbox.drain_into(&mut out);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, dispatch, fan_out);
criterion_main!(benches);
