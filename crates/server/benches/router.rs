//! The server's hot path without sockets: one request through the router
//! (preconditions, handler, the store, the recipient's outbox), and the
//! fan-out of one message to 1,000 local recipients, each drained the way
//! its session drains it. `cargo bench -p chinwag-server --bench router`.
//!
//! Messages are stored (history is on by default) in a SQLite database in a
//! temporary directory with `Durability::Normal`; one request at a time, so
//! each waits for its own commit (a real session pipelines, and its
//! messages share commits).

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use chinwag_proto::request::{Broadcast, Hello, Register, Transfer};
use chinwag_proto::{ByteString, Request, ServerFrame};
use chinwag_server::Config;
use chinwag_server::auth::AdminSecret;
use chinwag_server::cmd::{self, Ctx, Now, Outcome, Reply};
use chinwag_server::outbox::Outbox;
use chinwag_server::session::Conn;
use chinwag_server::state::State;
use chinwag_server::store::{Durability, SqliteStore};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const TEXT: &str = "0:1f:3b9aca00|..................................................";

/// Runs `request` through the router and, as a session does, waits for the
/// work it asked for and runs what comes after.
fn run(rt: &Runtime, state: &Arc<State>, conn: &mut Conn, request: Request) -> Reply {
    let mut ctx = Ctx {
        state,
        conn,
        now: Now::current(),
    };
    let mut outcome = cmd::dispatch(&mut ctx, request);
    loop {
        match outcome {
            Outcome::Ready(reply) => return reply,
            Outcome::Later(later) => {
                let then = rt.block_on(later.work);
                let mut ctx = Ctx {
                    state,
                    conn,
                    now: Now::current(),
                };
                outcome = then(&mut ctx);
            }
        }
    }
}

/// A connection that said HELLO and registered as `name`, through the
/// router, as a session would.
fn registered(rt: &Runtime, state: &Arc<State>, name: &str) -> Conn {
    let addr: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let config = &state.config;
    let outbox = Arc::new(Outbox::new(config.outbox_frames, config.outbox_bytes));
    let mut conn = Conn::new(state.next_conn_id(), addr, outbox);
    let hello = Request::Hello(Hello::current("bench"));
    run(rt, state, &mut conn, hello).unwrap();
    let register = Register {
        name: name.into(),
        ip: "".into(),
        port: 0,
        password: "".into(),
        take_offline: true,
        multi_session: false,
    };
    run(rt, state, &mut conn, Request::Register(register)).unwrap();
    conn
}

/// A runtime for the store's futures, and the state on a fresh database.
fn state(config: Config) -> (Runtime, Arc<State>, tempfile::TempDir) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), Durability::Normal).unwrap();
    let state = State::new(config, AdminSecret::new("bench".into()), Arc::new(store));
    (rt, state, dir)
}

/// One TRANSFER through the router, and the recipient's session moving it
/// into its write buffer.
fn dispatch(c: &mut Criterion) {
    let (rt, state, _dir) = state(Config::default());
    let mut alice = registered(&rt, &state, "alice");
    let bob = registered(&rt, &state, "bob");
    let mut out = BytesMut::with_capacity(64 * 1024);
    let mut events = Vec::new();
    write_out(&bob, &mut events, &mut out);
    let content = ByteString::from(TEXT);

    let mut group = c.benchmark_group("dispatch");
    group.throughput(Throughput::Elements(1));
    group.bench_function("transfer", |b| {
        b.iter(|| {
            let request = Request::Transfer(Transfer {
                src: "".into(),
                dst: "bob".into(),
                content: content.clone(),
                ..Default::default()
            });
            let reply = run(&rt, &state, &mut alice, black_box(request));
            assert!(matches!(reply, Ok(ServerFrame::Sent(_))));
            out.clear();
            write_out(&bob, &mut events, &mut out);
        })
    });
    group.bench_function("ping", |b| {
        b.iter(|| {
            let mut ctx = Ctx {
                state: &state,
                conn: &mut alice,
                now: Now::current(),
            };
            let reply = cmd::dispatch(&mut ctx, Request::Ping);
            black_box(matches!(reply, Outcome::Ready(Ok(_))));
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
    let (rt, state, _dir) = state(config);
    let mut sender = registered(&rt, &state, "sender");
    let recipients: Vec<Conn> = (0..RECIPIENTS)
        .map(|i| registered(&rt, &state, &format!("member{i}")))
        .collect();
    let mut out = BytesMut::with_capacity(64 * 1024);
    let mut events = Vec::new();
    let content = ByteString::from(TEXT);

    let mut group = c.benchmark_group("fan_out");
    group.throughput(Throughput::Elements(RECIPIENTS as u64));
    group.bench_function("broadcast_1000", |b| {
        b.iter(|| {
            let request = Request::Broadcast(Broadcast {
                src: "".into(),
                content: content.clone(),
                ..Default::default()
            });
            let reply = run(&rt, &state, &mut sender, request);
            assert!(matches!(reply, Ok(ServerFrame::Sent(s)) if s.recipients == RECIPIENTS as u32));
            for conn in &recipients {
                out.clear();
                write_out(conn, &mut events, &mut out);
            }
        })
    });
    group.finish();
}

/// What a session does with its queue: takes the events and renders them
/// (the first recipient encodes an event, the others reuse its bytes).
fn write_out(conn: &Conn, events: &mut Vec<chinwag_server::event::Shared>, out: &mut BytesMut) {
    conn.outbox.drain_into(events);
    for event in events.drain(..) {
        out.extend_from_slice(event.native());
    }
}

criterion_group!(benches, dispatch, fan_out);
criterion_main!(benches);
