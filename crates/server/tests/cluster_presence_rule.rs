//! Presence under random interleavings (issue 15): a property test that
//! runs random sequences of logins, ADMIN, GRANT and REVOKE, kicks,
//! logouts, disconnects and node restarts (clean, and kill -9 followed by
//! a restart under the same node id) against three real `chinwagd` nodes
//! sharing a nats-server and a fresh PostgreSQL database, and checks the
//! rule "a name is claimed iff someone holds it":
//! - the presence bucket holds exactly the names of the users online, each
//!   naming the node the user is on and showing its role;
//! - a login elsewhere of a name that is online fails with NameTaken, and
//!   a name whose holder left can be claimed again (the accounts here ask
//!   to be alone, REGISTER's multi-session option off; an account's
//!   sessions on several nodes have tests of their own in
//!   `cluster_sessions.rs`);
//! - every node lists exactly the users online (its own and its mirror of
//!   the others');
//! - once everyone has gone, the bucket holds no name.
//!
//! Each case gets a cluster of its own. Every wait is a polling deadline,
//! generous because the machine may be busy; no time is asserted.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv};
use chinwag_client::{Client, ClientError, ConnectOptions, Event, Events, RegisterOptions};
use chinwag_proto::ErrorCode;
use chinwag_proto::server::Role;
use chinwag_server::cluster::presence::PresenceRecord;
use common::daemon::Daemon;
use common::nats::Nats;
use common::postgres::TestDatabase;
use futures::StreamExt;
use proptest::prelude::*;

const NODES: usize = 3;
const USERS: usize = 4;
/// Every account's password, and the admin password.
const PASSWORD: &str = "presence-rule-password";
/// Short, so that a killed node's names are freed soon.
const NODE_TIMEOUT: &str = "1s";
/// Long enough that a killed node is always started again before the
/// others take it for dead.
const LONG_NODE_TIMEOUT: &str = "8s";
/// How long a check waits for the cluster to agree: a killed node's names
/// are freed within the node timeout and a check interval, a released
/// name at once; far more here, for a busy machine.
const SETTLE: Duration = Duration::from_secs(30);

/// One step of a case. Steps whose user is not in the state they need
/// (offline, not an administrator) do nothing.
#[derive(Clone, Debug)]
enum Op {
    /// `user` logs in to its account on `node`: NameTaken if it is online
    /// on another node; nothing if it is online on that node already.
    Login {
        user: usize,
        node: usize,
    },
    /// `user` becomes an administrator with the admin password.
    Admin {
        user: usize,
    },
    /// Administrator `by` gives `user`'s account the admin role.
    Grant {
        by: usize,
        user: usize,
    },
    /// Administrator `by` takes the admin role from `user`'s account.
    Revoke {
        by: usize,
        user: usize,
    },
    /// Administrator `by` kicks `user`.
    Kick {
        by: usize,
        user: usize,
    },
    Logout {
        user: usize,
    },
    /// `user`'s connection closes without a LOGOUT.
    Disconnect {
        user: usize,
    },
    /// `node` stops (SIGTERM, or kill -9 with `crash`) and starts again
    /// under the same node id.
    Restart {
        node: usize,
        crash: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let user = || 0..USERS;
    let node = || 0..NODES;
    prop_oneof![
        5 => (user(), node()).prop_map(|(user, node)| Op::Login { user, node }),
        2 => user().prop_map(|user| Op::Admin { user }),
        2 => (user(), user()).prop_map(|(by, user)| Op::Grant { by, user }),
        2 => (user(), user()).prop_map(|(by, user)| Op::Revoke { by, user }),
        2 => (user(), user()).prop_map(|(by, user)| Op::Kick { by, user }),
        1 => user().prop_map(|user| Op::Logout { user }),
        1 => user().prop_map(|user| Op::Disconnect { user }),
        1 => (node(), any::<bool>()).prop_map(|(node, crash)| Op::Restart { node, crash }),
    ]
}

fn name(user: usize) -> String {
    format!("u{user}")
}

fn node_id(node: usize) -> String {
    format!("n{node}")
}

/// A nats-server, a database and the nodes. The nodes are dropped
/// (killed) first, the database last.
struct Cluster {
    node_timeout: &'static str,
    nodes: Vec<Daemon>,
    /// The presence bucket, read directly.
    bucket: kv::Store,
    nats: Nats,
    db: TestDatabase,
}

/// Starts node `node`.
async fn start_node(nats: &Nats, db: &TestDatabase, node: usize, timeout: &str) -> Daemon {
    let args = [
        "--cluster".to_owned(),
        nats.url(),
        "--node-id".to_owned(),
        node_id(node),
        "--node-timeout".to_owned(),
        timeout.to_owned(),
        "--admin-password".to_owned(),
        PASSWORD.to_owned(),
        "--database".to_owned(),
        db.url.clone(),
    ];
    tokio::task::spawn_blocking(move || {
        Daemon::start(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap()
}

impl Cluster {
    async fn start(node_timeout: &'static str) -> Cluster {
        let db = TestDatabase::create().await;
        let nats = Nats::start();
        let mut nodes = Vec::new();
        for node in 0..NODES {
            nodes.push(start_node(&nats, &db, node, node_timeout).await);
        }
        // The first node created the bucket.
        let client = async_nats::connect(nats.url()).await.unwrap();
        let bucket = jetstream::new(client)
            .get_key_value(chinwag_server::cluster::presence::BUCKET)
            .await
            .unwrap();
        Cluster {
            node_timeout,
            nodes,
            bucket,
            nats,
            db,
        }
    }

    fn addr(&self, node: usize) -> SocketAddr {
        self.nodes[node].addr
    }

    async fn restart(&mut self, node: usize, crash: bool) {
        let daemon = &mut self.nodes[node];
        if crash {
            daemon.child.kill().unwrap();
            daemon.child.wait().unwrap();
        } else {
            daemon.signal("TERM");
            assert_eq!(daemon.wait(), 0, "n{node} did not stop cleanly");
        }
        self.nodes[node] = start_node(&self.nats, &self.db, node, self.node_timeout).await;
    }

    /// Every name the bucket holds, with the node and role its record
    /// shows.
    async fn claims(&self) -> BTreeMap<String, (String, bool)> {
        let keys: Vec<String> = self
            .bucket
            .keys()
            .await
            .unwrap()
            .map(|key| key.unwrap())
            .collect()
            .await;
        let mut claims = BTreeMap::new();
        for key in keys {
            let Some(value) = self.bucket.get(&key).await.unwrap() else {
                continue;
            };
            let record: PresenceRecord = serde_json::from_slice(&value).unwrap();
            claims.insert(record.name, (record.node, record.admin));
        }
        claims
    }
}

/// A user online, as the test knows it.
struct Session {
    client: Client,
    events: Events,
    node: usize,
    admin: bool,
}

/// What the cluster should show.
struct Model {
    sessions: Vec<Option<Session>>,
    /// The account exists (it logged in once).
    account: [bool; USERS],
    /// The account holds the admin role.
    role: [bool; USERS],
}

impl Model {
    fn new() -> Model {
        Model {
            sessions: (0..USERS).map(|_| None).collect(),
            account: [false; USERS],
            role: [false; USERS],
        }
    }

    /// The users online: name -> (node id, administrator).
    fn expected(&self) -> BTreeMap<String, (String, bool)> {
        self.sessions
            .iter()
            .enumerate()
            .filter_map(|(user, s)| {
                Some((name(user), (node_id(s.as_ref()?.node), s.as_ref()?.admin)))
            })
            .collect()
    }

    fn admin(&self, user: usize) -> Option<&Session> {
        self.sessions[user].as_ref().filter(|s| s.admin)
    }
}

async fn connect(addr: SocketAddr) -> (Client, Events) {
    Client::connect(addr, ConnectOptions::default())
        .await
        .unwrap()
}

fn code(result: Result<(), ClientError>) -> Option<ErrorCode> {
    match result {
        Ok(()) => None,
        Err(ClientError::Server { code, .. }) => Some(code),
        Err(other) => panic!("expected a reply from the server, got {other}"),
    }
}

/// Runs `attempt` until it succeeds, retrying while it fails with one of
/// `lagging` (what the cluster's propagation delay can cause: a name not
/// freed yet, a role or a user not arrived yet).
async fn until_ok(
    what: &str,
    lagging: &[ErrorCode],
    mut attempt: impl AsyncFnMut() -> Result<(), ClientError>,
) {
    let deadline = Instant::now() + SETTLE;
    loop {
        match code(attempt().await) {
            None => return,
            Some(code) if lagging.contains(&code) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Some(code) => panic!("{what}: {code:?}"),
        }
    }
}

/// What every login here asks: the account alone, one session.
fn alone() -> RegisterOptions {
    RegisterOptions {
        multi_session: false,
        ..RegisterOptions::default()
    }
}

/// Logs in as `name` on a new connection, trying again (on another new
/// connection: a connection may try REGISTER only so often) while the
/// name is still taken: its last holder's release may be on its way.
async fn log_in(addr: SocketAddr, name: &str, password: Option<&str>) -> (Client, Events) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let (client, events) = connect(addr).await;
        match code(
            client
                .register_with(name, password, &alone())
                .await
                .map(drop),
        ) {
            None => return (client, events),
            Some(ErrorCode::NameTaken) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Some(code) => panic!("{name} logs in on {addr}: {code:?}"),
        }
    }
}

/// Waits until the connection has ended.
async fn until_closed(events: &mut Events, what: &str) {
    let closed = async {
        while let Some(event) = events.recv().await {
            if matches!(event, Event::Closed { .. }) {
                return;
            }
        }
    };
    tokio::time::timeout(SETTLE, closed)
        .await
        .unwrap_or_else(|_| panic!("{what}: the connection stayed open"));
}

async fn apply(op: &Op, cluster: &mut Cluster, model: &mut Model) {
    match *op {
        Op::Login { user, node } => match &model.sessions[user] {
            Some(online) if online.node == node => {}
            Some(online) => {
                let (client, _events) = connect(cluster.addr(node)).await;
                let attempt = client
                    .register_with(&name(user), Some(PASSWORD), &alone())
                    .await
                    .map(drop);
                assert_eq!(
                    code(attempt),
                    Some(ErrorCode::NameTaken),
                    "{} is online on n{}: a login on n{node} must be refused",
                    name(user),
                    online.node
                );
            }
            None => {
                let (client, events) =
                    log_in(cluster.addr(node), &name(user), Some(PASSWORD)).await;
                model.account[user] = true;
                model.sessions[user] = Some(Session {
                    client,
                    events,
                    node,
                    admin: model.role[user],
                });
            }
        },
        Op::Admin { user } => {
            if let Some(session) = &mut model.sessions[user] {
                session.client.admin(PASSWORD).await.unwrap();
                session.admin = true;
            }
        }
        Op::Grant { by, user } | Op::Revoke { by, user } => {
            let grant = matches!(op, Op::Grant { .. });
            let Some(admin) = model.admin(by) else { return };
            if !model.account[user] {
                return;
            }
            until_ok(&format!("{op:?}"), &[ErrorCode::Forbidden], async || {
                if grant {
                    admin.client.grant(&name(user)).await
                } else {
                    admin.client.revoke(&name(user)).await
                }
            })
            .await;
            model.role[user] = grant;
            if let Some(session) = &mut model.sessions[user] {
                session.admin = grant;
            }
        }
        Op::Kick { by, user } => {
            let Some(admin) = model.admin(by) else { return };
            if by == user || model.sessions[user].is_none() {
                return;
            }
            until_ok(
                &format!("{op:?}"),
                &[ErrorCode::Forbidden, ErrorCode::NoSuchUser],
                async || admin.client.kick(&name(user), "property test").await,
            )
            .await;
            let mut kicked = model.sessions[user].take().unwrap();
            until_closed(&mut kicked.events, &format!("{op:?}")).await;
        }
        Op::Logout { user } => {
            if let Some(mut session) = model.sessions[user].take() {
                session.client.logout().await.unwrap();
                until_closed(&mut session.events, &format!("{op:?}")).await;
            }
        }
        Op::Disconnect { user } => drop(model.sessions[user].take()),
        Op::Restart { node, crash } => {
            for session in &mut model.sessions {
                if session.as_ref().is_some_and(|s| s.node == node) {
                    *session = None;
                }
            }
            cluster.restart(node, crash).await;
        }
    }
}

/// Waits until the bucket shows exactly `expected`; fails with what it
/// shows instead.
async fn until_claimed(cluster: &Cluster, expected: &BTreeMap<String, (String, bool)>, when: &str) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let claims = cluster.claims().await;
        if &claims == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{when}: the presence bucket holds {claims:?}, but online are {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks the rule on the bucket and on every node's listing.
async fn check(cluster: &Cluster, model: &Model) {
    let expected = model.expected();
    until_claimed(cluster, &expected, "after the sequence").await;
    for node in 0..NODES {
        // A lookout registers to list; it is online too while it looks.
        let lookout = format!("look{node}");
        let (client, mut events) = log_in(cluster.addr(node), &lookout, None).await;
        let mut listed_ok: BTreeMap<String, Role> = expected
            .iter()
            .map(|(name, (_, admin))| (name.clone(), if *admin { Role::Admin } else { Role::User }))
            .collect();
        listed_ok.insert(lookout.clone(), Role::User);
        let deadline = Instant::now() + SETTLE;
        loop {
            let listed: BTreeMap<String, Role> = client
                .users()
                .await
                .unwrap()
                .into_iter()
                .map(|u| (u.name.to_string(), u.role))
                .collect();
            if listed == listed_ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "n{node} lists {listed:?}, but online are {listed_ok:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        client.logout().await.unwrap();
        until_closed(&mut events, &format!("{lookout} logs out")).await;
    }
}

/// Runs one case on a fresh cluster: the steps, the check, then everyone
/// leaves and the bucket must empty.
async fn run_case(ops: &[Op], node_timeout: &'static str) {
    let mut cluster = Cluster::start(node_timeout).await;
    let mut model = Model::new();
    for op in ops {
        apply(op, &mut cluster, &mut model).await;
    }
    check(&cluster, &model).await;
    model.sessions.clear();
    until_claimed(&cluster, &BTreeMap::new(), "after everyone left").await;
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        // Each case starts a cluster: few cases, short sequences.
        cases: 16,
        max_shrink_iters: 64,
        max_shrink_time: 240_000,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_name_is_claimed_iff_someone_holds_it(ops in prop::collection::vec(op(), 1..14)) {
        runtime().block_on(run_case(&ops, NODE_TIMEOUT));
    }
}

/// Found by the property test: a node killed and started again under the
/// same id before the others took it for dead kept its earlier run's
/// names claimed for as long as it lived (nobody reaps a node that beats).
#[test]
fn a_node_restarted_under_its_id_frees_the_names_of_its_earlier_run() {
    let ops = [
        Op::Login { user: 0, node: 1 },
        Op::Login { user: 1, node: 0 },
        Op::Restart {
            node: 1,
            crash: true,
        },
        Op::Login { user: 0, node: 2 },
    ];
    runtime().block_on(run_case(&ops, LONG_NODE_TIMEOUT));
}
