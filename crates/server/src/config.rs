//! Server configuration, layered: built-in defaults, then the config file,
//! then environment variables, then command-line flags (each overrides the
//! one before).

use std::path::PathBuf;
use std::time::Duration;

use chinwag_proto::Limits;
use chinwag_proto::limits::MAX_FIELD_LEN;
use serde::Deserialize;

use crate::ratelimit::RateLimits;
pub use crate::store::Durability;

/// Whether REGISTER with a password may create an account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Signup {
    /// Anyone may create an account by registering a new name with a
    /// password.
    #[default]
    Open,
    /// Accounts are created only with `chinwagd admin add` (not over the
    /// protocol).
    Closed,
}

/// Whether REGISTER without a password is allowed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Guests {
    /// Anyone may use a name that is not an account, without a password.
    #[default]
    Allow,
    /// Only accounts may log in.
    Deny,
}

/// The resolved configuration the server runs with.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address of the native protocol listener.
    pub listen: String,
    /// The password of the ADMIN command. `None`: generate one at start-up.
    pub admin_password: Option<String>,
    /// The name announced in WELCOME.
    pub server_name: String,
    pub limits: Limits,
    /// How often clients should send something; the idle timeout is twice
    /// this.
    pub heartbeat: Duration,
    /// Time allowed from connecting to a completed REGISTER.
    pub handshake_timeout: Duration,
    /// Time allowed to deliver what is queued once a shutdown starts.
    pub shutdown_grace: Duration,
    /// Most frames waiting in one connection's outbound queue.
    pub outbox_frames: usize,
    /// Most bytes waiting in one connection's outbound queue.
    pub outbox_bytes: usize,
    /// Most connections at once; more are answered ServerBusy and closed.
    pub max_connections: usize,
    /// Undecodable frames tolerated on one connection before it is closed.
    pub max_bad_frames: u32,
    /// Join and leave notices go to everyone only while at most this many
    /// users are online: beyond that, announcing every arrival to every user
    /// costs more than it is worth.
    pub presence_limit: usize,
    /// Most connections at once from one IP address.
    pub max_connections_per_ip: usize,
    /// Most sessions one account may have online at once (clients that
    /// ask to share their account; guests always have one).
    pub max_sessions: usize,
    /// Most rooms the server holds.
    pub max_rooms: usize,
    /// Most rooms one user may be a member of.
    pub max_rooms_per_user: usize,
    /// Apply `max_connections_per_ip` to loopback addresses too (they are
    /// exempt by default: local tools and benchmarks).
    pub limit_loopback: bool,
    /// The client listeners are reached through a proxy that opens every
    /// connection with a PROXY protocol header naming the real client.
    pub proxy_protocol: bool,
    /// Per-connection flood control.
    pub rate: RateLimits,
    /// REGISTER attempts allowed on one connection before it is closed.
    pub max_register_attempts: u32,
    /// Wrong passwords allowed on one connection before each further one
    /// locks it out for a while (1 s, doubling up to 5 min).
    pub password_free_attempts: u32,
    /// Certificate chain (PEM) for TLS; needs `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for TLS; needs `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Where to serve TLS. `None` with `tls` set: `listen` itself is TLS
    /// and there is no plain listener.
    pub tls_listen: Option<String>,
    /// Where to serve `/metrics` and `/healthz`; off when `None`.
    pub metrics_listen: Option<String>,
    /// Where the database lives. `None`: a temporary directory, removed
    /// when the server is dropped (tests, benchmarks); `chinwagd` always
    /// sets one.
    pub data_dir: Option<PathBuf>,
    pub durability: Durability,
    pub signup: Signup,
    pub guests: Guests,
    /// Delete messages older than this (none: keep them).
    pub history_max_age: Option<Duration>,
    /// Keep at most this many messages (none: no limit).
    pub history_max_count: Option<u64>,
    /// A PostgreSQL database (`postgres://...`) to use instead of the
    /// embedded one; the nodes of a cluster share one.
    pub database: Option<String>,
    /// Cluster mode: the NATS servers to join through; a single node
    /// when empty.
    pub cluster: Vec<String>,
    /// This node's id in a cluster; generated when `None`.
    pub node_id: Option<String>,
    /// How long a silent node keeps its users' names.
    pub node_timeout: Duration,
}

/// The PEM files of a TLS listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:7070".into(),
            admin_password: None,
            server_name: format!("chinwagd/{}", env!("CARGO_PKG_VERSION")),
            limits: Limits::DEFAULT,
            heartbeat: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            outbox_frames: 4096,
            outbox_bytes: 1024 * 1024,
            max_connections: 20_000,
            max_bad_frames: 10,
            presence_limit: 1000,
            max_connections_per_ip: 64,
            max_sessions: crate::state::users::DEFAULT_MAX_SESSIONS,
            max_rooms: 10_000,
            max_rooms_per_user: 100,
            limit_loopback: false,
            proxy_protocol: false,
            rate: RateLimits::DEFAULT,
            max_register_attempts: 10,
            password_free_attempts: 3,
            tls_cert: None,
            tls_key: None,
            tls_listen: None,
            metrics_listen: None,
            data_dir: None,
            durability: Durability::Full,
            signup: Signup::Open,
            guests: Guests::Allow,
            history_max_age: None,
            history_max_count: None,
            database: None,
            cluster: Vec::new(),
            node_id: None,
            node_timeout: crate::cluster::ClusterConfig::DEFAULT_NODE_TIMEOUT,
        }
    }
}

/// The data directory `chinwagd` uses when none is configured:
/// `$XDG_DATA_HOME/chinwag`, else `~/.local/share/chinwag`, else
/// `./chinwag-data`.
pub fn default_data_dir() -> PathBuf {
    let from_env = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(xdg) = from_env("XDG_DATA_HOME") {
        return xdg.join("chinwag");
    }
    if let Some(home) = from_env("HOME") {
        return home.join(".local/share/chinwag");
    }
    PathBuf::from("chinwag-data")
}

impl Config {
    pub fn idle_timeout(&self) -> Duration {
        self.heartbeat * 2
    }

    /// The TLS files, when both are set.
    pub fn tls(&self) -> Option<TlsFiles> {
        Some(TlsFiles {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
        })
    }

    /// How to join the cluster, in cluster mode.
    pub fn cluster(&self) -> Option<crate::cluster::ClusterConfig> {
        if self.cluster.is_empty() {
            return None;
        }
        // `resolve` gives every cluster node an id; a config built by hand
        // without one gets a fresh one here.
        let node = match &self.node_id {
            Some(id) => crate::cluster::NodeId::parse(id).ok()?,
            None => crate::cluster::NodeId::generate(),
        };
        Some(crate::cluster::ClusterConfig {
            servers: self.cluster.clone(),
            node,
            node_timeout: self.node_timeout,
            request_timeout: crate::cluster::ClusterConfig::DEFAULT_REQUEST_TIMEOUT,
        })
    }

    /// Checks that the values make sense together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        let bad = |what: String| Err(ConfigError::Invalid(what));
        if l.max_content == 0 || l.max_content as usize > MAX_FIELD_LEN {
            return bad(format!("max_content must be 1..={MAX_FIELD_LEN}"));
        }
        // A TRANSFER carries src, dst and content plus 11 bytes of framing.
        let needed = l.max_content as u64 + 2 * (2 + u64::from(l.max_name)) + 2 + 5;
        if u64::from(l.max_frame) < needed {
            return bad(format!(
                "max_frame ({}) must be at least {needed} to carry max_content ({})",
                l.max_frame, l.max_content
            ));
        }
        if self.heartbeat.is_zero() || self.heartbeat > Duration::from_secs(u16::MAX.into()) {
            return bad("heartbeat must be between 1s and 18h".into());
        }
        if self.outbox_frames == 0 || self.outbox_bytes < l.max_frame as usize {
            return bad("outbox_bytes must hold at least one max_frame".into());
        }
        if self.admin_password.as_deref() == Some("") {
            return bad("the admin password cannot be empty".into());
        }
        if l.max_name == 0 || l.max_name as usize > chinwag_proto::limits::MAX_NAME_LEN {
            return bad(format!(
                "max_name must be 1..={}",
                chinwag_proto::limits::MAX_NAME_LEN
            ));
        }
        if self.max_rooms == 0 || self.max_rooms_per_user == 0 {
            return bad("max_rooms and max_rooms_per_user must be at least 1".into());
        }
        if self.max_connections == 0 || self.max_connections_per_ip == 0 {
            return bad("max_connections and max_connections_per_ip must be at least 1".into());
        }
        let r = &self.rate;
        if r.requests_per_sec > 0 && r.request_burst == 0 {
            return bad("rate_request_burst must be at least 1".into());
        }
        if r.bytes_per_sec > 0 && r.byte_burst < u64::from(l.max_frame) {
            return bad(format!(
                "rate_byte_burst ({}) must hold at least one max_frame ({})",
                r.byte_burst, l.max_frame
            ));
        }
        if r.max_strikes == 0 || r.admin_multiplier == 0 || self.max_register_attempts == 0 {
            return bad(
                "rate_strikes, admin_rate_multiplier and max_register_attempts must be at least 1"
                    .into(),
            );
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return bad("tls_cert and tls_key go together".into());
        }
        if self.tls().is_none() && self.tls_listen.is_some() {
            return bad("tls_listen needs tls_cert and tls_key".into());
        }
        if self.history_max_count == Some(0) {
            return bad("history_max_count must be at least 1 (leave it unset to keep all)".into());
        }
        if self.history_max_age.is_some_and(|age| age.is_zero()) {
            return bad("history_max_age must be above 0 (leave it unset to keep all)".into());
        }
        self.validate_cluster()
    }

    fn validate_cluster(&self) -> Result<(), ConfigError> {
        let bad = |what: String| Err(ConfigError::Invalid(what));
        for url in &self.cluster {
            let host = url.strip_prefix("nats://").unwrap_or(url);
            if host.is_empty() || host.contains('/') || !host.contains(':') {
                return bad(format!(
                    "cluster: {url:?} is not a NATS address (nats://HOST:PORT)"
                ));
            }
        }
        if let Some(id) = &self.node_id
            && let Err(e) = crate::cluster::NodeId::parse(id)
        {
            return bad(format!("node_id: {e}"));
        }
        if self.node_timeout < Duration::from_millis(500) {
            return bad("node_timeout must be at least 500ms".into());
        }
        if self.cluster.is_empty() && self.node_id.is_some() {
            return bad("node_id is for cluster mode: give cluster too".into());
        }
        if let Some(url) = &self.database
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return bad("database must be a PostgreSQL URL (postgres://USER@HOST/DB)".into());
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("config file {path}: {error}")]
    Parse {
        path: PathBuf,
        error: Box<toml::de::Error>,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The settings a config file (TOML) or the command line may give. Every
/// field is optional: what is absent falls through to the layer below.
#[derive(Clone, Debug, Default, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Settings {
    /// Address to listen on for the native protocol [default: 127.0.0.1:7070]
    #[arg(long, env = "CHINWAG_LISTEN")]
    pub listen: Option<String>,
    /// Password of the ADMIN command; generated and logged if unset
    #[arg(long, env = "CHINWAG_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Server name announced to clients
    #[arg(long, env = "CHINWAG_SERVER_NAME")]
    pub server_name: Option<String>,
    /// Largest frame accepted from a client, in bytes [default: 8192]
    #[arg(long, env = "CHINWAG_MAX_FRAME")]
    pub max_frame: Option<u32>,
    /// Longest message text, in bytes [default: 4096]
    #[arg(long, env = "CHINWAG_MAX_CONTENT")]
    pub max_content: Option<u32>,
    /// Keep-alive interval announced to clients; idle connections are closed
    /// after twice this [default: 30s]
    #[arg(long, env = "CHINWAG_HEARTBEAT", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_opt")]
    pub heartbeat: Option<Duration>,
    /// Time allowed between connecting and REGISTER [default: 10s]
    #[arg(long, env = "CHINWAG_HANDSHAKE_TIMEOUT", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_opt")]
    pub handshake_timeout: Option<Duration>,
    /// Time allowed to flush queued frames on shutdown [default: 5s]
    #[arg(long, env = "CHINWAG_SHUTDOWN_GRACE", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_opt")]
    pub shutdown_grace: Option<Duration>,
    /// Most frames queued for one connection [default: 4096]
    #[arg(long, env = "CHINWAG_OUTBOX_FRAMES")]
    pub outbox_frames: Option<usize>,
    /// Most bytes queued for one connection [default: 1048576]
    #[arg(long, env = "CHINWAG_OUTBOX_BYTES")]
    pub outbox_bytes: Option<usize>,
    /// Most connections at once [default: 20000]
    #[arg(long, env = "CHINWAG_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Undecodable frames tolerated per connection [default: 10]
    #[arg(long, env = "CHINWAG_MAX_BAD_FRAMES")]
    pub max_bad_frames: Option<u32>,
    /// Announce joins and leaves only while at most this many users are
    /// online [default: 1000]
    #[arg(long, env = "CHINWAG_PRESENCE_LIMIT")]
    pub presence_limit: Option<usize>,
    /// Longest user name, in bytes, 1 to 32 [default: 32]
    #[arg(long, env = "CHINWAG_MAX_NAME")]
    pub max_name: Option<u16>,
    /// Most connections at once from one IP address [default: 64]
    #[arg(long, env = "CHINWAG_MAX_CONNECTIONS_PER_IP")]
    pub max_connections_per_ip: Option<usize>,
    /// Most rooms on the server [default: 10000]
    #[arg(long, env = "CHINWAG_MAX_ROOMS")]
    pub max_rooms: Option<usize>,
    /// Most rooms one user may be in [default: 100]
    #[arg(long, env = "CHINWAG_MAX_ROOMS_PER_USER")]
    pub max_rooms_per_user: Option<usize>,
    /// Apply --max-connections-per-ip to loopback addresses too (exempt by
    /// default) [default: false]
    #[arg(long, env = "CHINWAG_LIMIT_LOOPBACK", num_args = 0..=1, default_missing_value = "true")]
    pub limit_loopback: Option<bool>,
    /// The client listeners are behind a trusted proxy that sends a PROXY
    /// protocol header (v1 or v2) first on every connection; without one a
    /// connection is closed (see docs/security.md) [default: false]
    #[arg(long, env = "CHINWAG_PROXY_PROTOCOL", num_args = 0..=1, default_missing_value = "true")]
    pub proxy_protocol: Option<bool>,
    /// Requests per second allowed per connection, sustained; 0 turns the
    /// request limit off [default: 20000]
    #[arg(long, env = "CHINWAG_RATE_REQUESTS")]
    pub rate_requests: Option<u32>,
    /// Requests allowed at once above that rate [default: 40000]
    #[arg(long, env = "CHINWAG_RATE_REQUEST_BURST")]
    pub rate_request_burst: Option<u32>,
    /// Bytes per second allowed per connection, sustained; 0 turns the byte
    /// limit off [default: 33554432]
    #[arg(long, env = "CHINWAG_RATE_BYTES")]
    pub rate_bytes: Option<u64>,
    /// Bytes allowed at once above that rate [default: 67108864]
    #[arg(long, env = "CHINWAG_RATE_BYTE_BURST")]
    pub rate_byte_burst: Option<u64>,
    /// Requests refused with RateLimited before the connection is closed
    /// [default: 1000]
    #[arg(long, env = "CHINWAG_RATE_STRIKES")]
    pub rate_strikes: Option<u32>,
    /// Administrators' rates and bursts are this many times larger
    /// [default: 10]
    #[arg(long, env = "CHINWAG_ADMIN_RATE_MULTIPLIER")]
    pub admin_rate_multiplier: Option<u32>,
    /// REGISTER attempts allowed on one connection before it is closed
    /// [default: 10]
    #[arg(long, env = "CHINWAG_MAX_REGISTER_ATTEMPTS")]
    pub max_register_attempts: Option<u32>,
    /// Wrong passwords allowed per connection before lock-outs start
    /// [default: 3]
    #[arg(long, env = "CHINWAG_PASSWORD_FREE_ATTEMPTS")]
    pub password_free_attempts: Option<u32>,
    /// TLS certificate chain (PEM); with --tls-key, serves TLS on
    /// --tls-listen, or on --listen if that is not given
    #[arg(long, env = "CHINWAG_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM)
    #[arg(long, env = "CHINWAG_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Address of a TLS listener beside the plain one on --listen
    #[arg(long, env = "CHINWAG_TLS_LISTEN")]
    pub tls_listen: Option<String>,
    /// Serve Prometheus /metrics and /healthz over HTTP on this address
    /// (keep it on loopback or a private network) [default: off]
    #[arg(long, env = "CHINWAG_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Data directory: the database of accounts, history, mutes, bans and
    /// the audit log; created on first start
    /// [default: $XDG_DATA_HOME/chinwag or ~/.local/share/chinwag]
    #[arg(long, value_name = "DIR", env = "CHINWAG_DATA", global = true)]
    pub data: Option<PathBuf>,
    /// full: every acknowledged write is synced to disk (survives power
    /// loss); normal: synced at checkpoints (survives a crash of chinwagd,
    /// not of the machine) [default: full]
    #[arg(long, value_enum, env = "CHINWAG_DURABILITY")]
    pub durability: Option<Durability>,
    /// Whether registering a new name with a password creates an account
    /// [default: open]
    #[arg(long, value_enum, env = "CHINWAG_SIGNUP")]
    pub signup: Option<Signup>,
    /// Whether names that are not accounts may be used without a password
    /// [default: allow]
    #[arg(long, value_enum, env = "CHINWAG_GUESTS")]
    pub guests: Option<Guests>,
    /// Delete messages older than this, like 30d [default: keep]
    #[arg(long, env = "CHINWAG_HISTORY_MAX_AGE", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_opt")]
    pub history_max_age: Option<Duration>,
    /// Keep at most this many messages [default: no limit]
    #[arg(long, env = "CHINWAG_HISTORY_MAX_COUNT")]
    pub history_max_count: Option<u64>,
    /// Keep everything in this PostgreSQL database instead of the embedded
    /// one (postgres://USER[:PASSWORD]@HOST[:PORT]/DB); the nodes of a
    /// cluster share one [default: the embedded database in --data]
    #[arg(
        long,
        value_name = "URL",
        env = "CHINWAG_DATABASE",
        hide_env_values = true
    )]
    pub database: Option<String>,
    /// Cluster mode: join the other nodes through these NATS servers
    /// (JetStream on), comma-separated nats://HOST:PORT; see docs/cluster.md
    /// [default: off, a single node]
    #[arg(
        long,
        env = "CHINWAG_CLUSTER",
        value_delimiter = ',',
        value_name = "URLS"
    )]
    #[serde(default, deserialize_with = "one_or_many")]
    pub cluster: Option<Vec<String>>,
    /// This node's id in the cluster: letters, digits, '_' and '-'
    /// [default: generated]
    #[arg(long, env = "CHINWAG_NODE_ID")]
    pub node_id: Option<String>,
    /// A node silent for this long is taken for dead and its users' names
    /// are freed [default: 6s]
    #[arg(long, env = "CHINWAG_NODE_TIMEOUT", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_opt")]
    pub node_timeout: Option<Duration>,
}

impl Settings {
    /// Reads a TOML config file.
    pub fn from_file(path: &std::path::Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.into(),
            error,
        })?;
        toml::from_str(&text).map_err(|error| ConfigError::Parse {
            path: path.into(),
            error: Box::new(error),
        })
    }

    /// Applies the settings that are present onto `config`.
    pub fn apply(self, config: &mut Config) {
        let Settings {
            listen,
            admin_password,
            server_name,
            max_frame,
            max_content,
            heartbeat,
            handshake_timeout,
            shutdown_grace,
            outbox_frames,
            outbox_bytes,
            max_connections,
            max_bad_frames,
            presence_limit,
            max_name,
            max_connections_per_ip,
            max_rooms,
            max_rooms_per_user,
            limit_loopback,
            proxy_protocol,
            rate_requests,
            rate_request_burst,
            rate_bytes,
            rate_byte_burst,
            rate_strikes,
            admin_rate_multiplier,
            max_register_attempts,
            password_free_attempts,
            tls_cert,
            tls_key,
            tls_listen,
            metrics_listen,
            data,
            durability,
            signup,
            guests,
            history_max_age,
            history_max_count,
            database,
            cluster,
            node_id,
            node_timeout,
        } = self;
        set(&mut config.listen, listen);
        if admin_password.is_some() {
            config.admin_password = admin_password;
        }
        set(&mut config.server_name, server_name);
        set(&mut config.limits.max_frame, max_frame);
        set(&mut config.limits.max_content, max_content);
        set(&mut config.heartbeat, heartbeat);
        set(&mut config.handshake_timeout, handshake_timeout);
        set(&mut config.shutdown_grace, shutdown_grace);
        set(&mut config.outbox_frames, outbox_frames);
        set(&mut config.outbox_bytes, outbox_bytes);
        set(&mut config.max_connections, max_connections);
        set(&mut config.max_bad_frames, max_bad_frames);
        set(&mut config.presence_limit, presence_limit);
        set(&mut config.limits.max_name, max_name);
        set(&mut config.max_connections_per_ip, max_connections_per_ip);
        set(&mut config.max_rooms, max_rooms);
        set(&mut config.max_rooms_per_user, max_rooms_per_user);
        set(&mut config.limit_loopback, limit_loopback);
        set(&mut config.proxy_protocol, proxy_protocol);
        set(&mut config.rate.requests_per_sec, rate_requests);
        set(&mut config.rate.request_burst, rate_request_burst);
        set(&mut config.rate.bytes_per_sec, rate_bytes);
        set(&mut config.rate.byte_burst, rate_byte_burst);
        set(&mut config.rate.max_strikes, rate_strikes);
        set(&mut config.rate.admin_multiplier, admin_rate_multiplier);
        set(&mut config.max_register_attempts, max_register_attempts);
        set(&mut config.password_free_attempts, password_free_attempts);
        if tls_cert.is_some() {
            config.tls_cert = tls_cert;
        }
        if tls_key.is_some() {
            config.tls_key = tls_key;
        }
        if tls_listen.is_some() {
            config.tls_listen = tls_listen;
        }
        if metrics_listen.is_some() {
            config.metrics_listen = metrics_listen;
        }
        if data.is_some() {
            config.data_dir = data;
        }
        set(&mut config.durability, durability);
        set(&mut config.signup, signup);
        set(&mut config.guests, guests);
        if history_max_age.is_some() {
            config.history_max_age = history_max_age;
        }
        if history_max_count.is_some() {
            config.history_max_count = history_max_count;
        }
        if database.is_some() {
            config.database = database;
        }
        set(&mut config.cluster, cluster);
        if node_id.is_some() {
            config.node_id = node_id;
        }
        set(&mut config.node_timeout, node_timeout);
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

/// Builds the configuration: defaults, then the file (if any), then
/// `overrides` (flags, which clap has already merged with the environment).
pub fn resolve(file: Option<&std::path::Path>, overrides: Settings) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    if let Some(path) = file {
        Settings::from_file(path)?.apply(&mut config);
    }
    overrides.apply(&mut config);
    if !config.cluster.is_empty() && config.node_id.is_none() {
        config.node_id = Some(crate::cluster::NodeId::generate().to_string());
    }
    config.validate()?;
    Ok(config)
}

/// `cluster` in the config file: one URL, a comma-separated list, or an
/// array of URLs.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(Option::<OneOrMany>::deserialize(d)?.map(|v| match v {
        OneOrMany::One(text) => text.split(',').map(|s| s.trim().to_owned()).collect(),
        OneOrMany::Many(urls) => urls,
    }))
}

/// Durations in the config file are written the human way: "30s", "5m".
mod humantime_opt {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| humantime::parse_duration(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        let dir = std::env::temp_dir().join(format!("chinwag-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chinwagd.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nheartbeat = \"10s\"\nmax_content = 1000\n",
        )
        .unwrap();
        let flags = Settings {
            listen: Some("127.0.0.1:9001".into()),
            ..Settings::default()
        };
        let config = resolve(Some(&path), flags).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9001", "flag beats file");
        assert_eq!(
            config.heartbeat,
            Duration::from_secs(10),
            "file beats default"
        );
        assert_eq!(config.limits.max_content, 1000);
        assert_eq!(config.shutdown_grace, Duration::from_secs(5), "default");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let dir = std::env::temp_dir().join(format!("chinwag-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        assert!(matches!(
            resolve(Some(&path), Settings::default()),
            Err(ConfigError::Parse { .. })
        ));
        let flags = Settings {
            max_content: Some(9000),
            ..Settings::default()
        };
        assert!(matches!(resolve(None, flags), Err(ConfigError::Invalid(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hardening_settings_are_checked_together() {
        let invalid = |settings: Settings| {
            assert!(
                matches!(
                    resolve(None, settings.clone()),
                    Err(ConfigError::Invalid(_))
                ),
                "{settings:?}"
            );
        };
        invalid(Settings {
            tls_cert: Some("cert.pem".into()),
            ..Settings::default()
        });
        invalid(Settings {
            tls_listen: Some("127.0.0.1:0".into()),
            ..Settings::default()
        });
        invalid(Settings {
            rate_byte_burst: Some(100),
            ..Settings::default()
        });
        invalid(Settings {
            max_name: Some(33),
            ..Settings::default()
        });
        invalid(Settings {
            max_connections_per_ip: Some(0),
            ..Settings::default()
        });
        let config = resolve(
            None,
            Settings {
                rate_requests: Some(0),
                limit_loopback: Some(true),
                tls_cert: Some("c.pem".into()),
                tls_key: Some("k.pem".into()),
                ..Settings::default()
            },
        )
        .unwrap();
        assert_eq!(config.rate.requests_per_sec, 0, "0 turns it off");
        assert!(config.limit_loopback);
        assert_eq!(config.tls().unwrap().key, PathBuf::from("k.pem"));
    }

    #[test]
    fn cluster_settings() {
        let invalid = |settings: Settings| {
            assert!(
                matches!(
                    resolve(None, settings.clone()),
                    Err(ConfigError::Invalid(_))
                ),
                "{settings:?}"
            );
        };
        let cluster = |urls: &[&str]| Some(urls.iter().map(|u| u.to_string()).collect());
        invalid(Settings {
            cluster: cluster(&["nats://host"]),
            ..Settings::default()
        });
        invalid(Settings {
            cluster: cluster(&["nats://host:4222"]),
            node_id: Some("a.b".into()),
            ..Settings::default()
        });
        invalid(Settings {
            node_id: Some("n1".into()),
            ..Settings::default()
        });
        invalid(Settings {
            cluster: cluster(&["nats://host:4222"]),
            node_timeout: Some(Duration::from_millis(100)),
            ..Settings::default()
        });
        invalid(Settings {
            database: Some("mysql://db".into()),
            ..Settings::default()
        });
        assert!(
            Config::default().cluster().is_none(),
            "a single node by default"
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(
            &path,
            "cluster = \"nats://a:4222, nats://b:4222\"\nnode_id = \"n1\"\n\
             node_timeout = \"3s\"\ndatabase = \"postgres://db/chat\"\n",
        )
        .unwrap();
        let config = resolve(Some(&path), Settings::default()).unwrap();
        let joined = config.cluster().unwrap();
        assert_eq!(joined.servers, ["nats://a:4222", "nats://b:4222"]);
        assert_eq!(joined.node.as_str(), "n1");
        assert_eq!(joined.node_timeout, Duration::from_secs(3));
        assert_eq!(config.database.as_deref(), Some("postgres://db/chat"));
        std::fs::write(&path, "cluster = [\"nats://a:4222\"]\n").unwrap();
        let config = resolve(Some(&path), Settings::default()).unwrap();
        assert_eq!(config.cluster, ["nats://a:4222"]);
        let node = config.cluster().unwrap().node;
        assert!(node.as_str().starts_with("n-"), "generated: {node}");
        assert_eq!(config.cluster().unwrap().node, node, "once, at resolve");
    }
}
