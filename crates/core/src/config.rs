//! Server configuration, layered: built-in defaults, then the config file,
//! then environment variables, then command-line flags (each overrides the
//! one before).
//!
//! [`Config`] is what the server runs with, and its `Default` holds the
//! defaults. Each setting is one row ([`Setting`]) in [`SECTIONS`]: its
//! name, which is also its config file key, flag and environment variable,
//! its help, and the field it fills. [`resolve`] applies the layers through
//! those rows; `chinwagd` turns them into its flags and shows each default
//! read from `Config::default()`.

mod sections;
mod setting;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chinwag_proto::Limits;
use chinwag_proto::limits::MAX_FIELD_LEN;

use crate::ratelimit::RateLimits;
pub use crate::store::Durability;
pub use sections::SECTIONS;
pub(crate) use setting::setting;
pub use setting::{Input, Section, Setting, SettingValue, Shape};

/// How long a silent node of a cluster keeps its users' names, unless
/// configured otherwise.
pub const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_secs(6);

/// Most connections to a PostgreSQL database a node keeps open, unless
/// configured otherwise.
pub const DEFAULT_DATABASE_POOL: usize = crate::store::postgres::DEFAULT_POOL;

/// Whether REGISTER with a password may create an account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Guests {
    /// Anyone may use a name that is not an account, without a password.
    #[default]
    Allow,
    /// Only accounts may log in.
    Deny,
}

/// The resolved configuration the server runs with. Its `Default` is the
/// one place the defaults of its own fields are written.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Address of the native protocol listener.
    pub listen: String,
    /// The password of the ADMIN command. `None`: generate one at start-up.
    pub admin_password: Option<String>,
    /// The name announced in WELCOME.
    pub server_name: String,
    /// The password every connection gives before it registers; `None`:
    /// none needed.
    pub server_password: Option<String>,
    /// One line about the server (IRC's server info, in LINKS).
    pub server_description: String,
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
    /// Whether to serve the web client and its WebSocket on `web_listen`.
    pub web: bool,
    /// Address of the web listener.
    pub web_listen: String,
    /// Origins besides the web listener's own host whose pages may open
    /// the WebSocket (`https://chat.example.org`).
    pub web_origins: Vec<String>,
    /// Reverse proxies in front of the web listener whose
    /// `X-Forwarded-For` is believed: addresses or networks.
    pub web_trusted_proxies: Vec<String>,
    /// Where to serve IRC: `None` for [`DEFAULT_IRC_LISTEN`] when it is
    /// free, [`IRC_OFF`] for nowhere.
    pub irc_listen: Option<String>,
    /// Where to serve IRC over TLS (needs `tls_cert` and `tls_key`).
    pub irc_tls_listen: Option<String>,
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
    /// Certificate authorities (a PEM file) trusted for a `database` URL
    /// with `sslmode=require`, besides the system's.
    pub database_ca: Option<PathBuf>,
    /// Most connections to the `database` this node keeps open.
    pub database_pool: usize,
    /// Cluster mode: the NATS servers to join through; a single node
    /// when empty.
    pub cluster: Vec<String>,
    /// Certificate authorities (a PEM file) trusted for `tls://` NATS
    /// servers, besides the system's.
    pub cluster_ca: Option<PathBuf>,
    /// This node's id in a cluster; generated when `None`.
    pub node_id: Option<String>,
    /// How long a silent node keeps its users' names.
    pub node_timeout: Duration,
}

/// Where IRC is served when `irc_listen` is not set.
pub const DEFAULT_IRC_LISTEN: &str = "127.0.0.1:6667";
/// The web listener's default address.
pub const DEFAULT_WEB_LISTEN: &str = "127.0.0.1:8080";
/// The `irc_listen` value for no IRC listener.
pub const IRC_OFF: &str = "off";

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
            server_description: "chinwag chat server".into(),
            server_password: None,
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
            web: true,
            web_listen: DEFAULT_WEB_LISTEN.into(),
            web_origins: Vec::new(),
            web_trusted_proxies: Vec::new(),
            irc_listen: None,
            irc_tls_listen: None,
            data_dir: None,
            durability: Durability::Full,
            signup: Signup::Open,
            guests: Guests::Allow,
            history_max_age: None,
            history_max_count: None,
            database: None,
            database_ca: None,
            database_pool: DEFAULT_DATABASE_POOL,
            cluster: Vec::new(),
            cluster_ca: None,
            node_id: None,
            node_timeout: DEFAULT_NODE_TIMEOUT,
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
        if r.max_lag.is_zero() || r.admin_multiplier == 0 || self.max_register_attempts == 0 {
            return bad(
                "rate_max_lag, admin_rate_multiplier and max_register_attempts must be more than 0"
                    .into(),
            );
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return bad("tls_cert and tls_key go together".into());
        }
        if self.tls().is_none() && self.tls_listen.is_some() {
            return bad("tls_listen needs tls_cert and tls_key".into());
        }
        if self.tls().is_none() && self.irc_tls_listen.is_some() {
            return bad("irc_tls_listen needs tls_cert and tls_key".into());
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
            let host = ["nats://", "tls://"]
                .iter()
                .find_map(|scheme| url.strip_prefix(scheme))
                .unwrap_or(url);
            if host.is_empty() || host.contains('/') || !host.contains(':') {
                return bad(format!(
                    "cluster: {url:?} is not a NATS address (nats://HOST:PORT or tls://HOST:PORT)"
                ));
            }
        }
        if let Some(id) = &self.node_id
            && let Err(e) = crate::node::NodeId::parse(id)
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
        if self.database_ca.is_some() && self.database.is_none() {
            return bad("database_ca is for a PostgreSQL database: give database too".into());
        }
        if !(1..=1000).contains(&self.database_pool) {
            return bad("database_pool must be 1 to 1000".into());
        }
        if self.cluster_ca.is_some() && self.cluster.is_empty() {
            return bad("cluster_ca is for cluster mode: give cluster too".into());
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
    #[error("{origin}: {message}")]
    Setting { origin: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Builds the configuration from its layers, each overriding the one
/// before: the defaults, the config file `file` (if any), the environment
/// (`env` gives a variable's value by name; chinwagd passes
/// `std::env::var_os`), and the `flags` given, as (setting name, value).
/// An empty environment variable counts as unset.
pub fn resolve(
    file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<OsString>,
    flags: &[(&str, String)],
) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    if let Some(path) = file {
        apply_file(&mut config, path)?;
    }
    apply_env(&mut config, env)?;
    apply_flags(&mut config, flags)?;
    if !config.cluster.is_empty() && config.node_id.is_none() {
        config.node_id = Some(crate::node::NodeId::generate().to_string());
    }
    config.validate()?;
    Ok(config)
}

/// Every setting, section by section.
pub fn settings() -> impl Iterator<Item = &'static Setting> {
    SECTIONS.iter().flat_map(|section| section.settings)
}

/// The setting named `name` (its config file key).
pub fn setting_named(name: &str) -> Option<&'static Setting> {
    settings().find(|setting| setting.name == name)
}

/// The config file: a TOML table whose keys are settings' names.
fn apply_file(config: &mut Config, path: &Path) -> Result<(), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.into(),
        error,
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|error| ConfigError::Parse {
        path: path.into(),
        error: Box::new(error),
    })?;
    for (key, value) in &table {
        let origin = || format!("config file {}, key {key}", path.display());
        let setting = setting_named(key).ok_or_else(|| ConfigError::Setting {
            origin: origin(),
            message: "there is no such setting (chinwagd --help lists them)".into(),
        })?;
        setting
            .read(config, Input::Toml(value))
            .map_err(|message| ConfigError::Setting {
                origin: origin(),
                message,
            })?;
    }
    Ok(())
}

fn apply_env(
    config: &mut Config,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<(), ConfigError> {
    for setting in settings() {
        let var = setting.env_var();
        let Some(value) = env(&var).filter(|value| !value.is_empty()) else {
            continue;
        };
        let origin = || format!("environment variable {var}");
        let text = value.into_string().map_err(|_| ConfigError::Setting {
            origin: origin(),
            message: "not valid UTF-8".into(),
        })?;
        setting
            .read(config, Input::Text(&text))
            .map_err(|message| ConfigError::Setting {
                origin: origin(),
                message,
            })?;
    }
    Ok(())
}

fn apply_flags(config: &mut Config, flags: &[(&str, String)]) -> Result<(), ConfigError> {
    for (name, text) in flags {
        let setting = setting_named(name)
            .ok_or_else(|| ConfigError::Invalid(format!("there is no setting named {name:?}")))?;
        setting
            .read(config, Input::Text(text))
            .map_err(|message| ConfigError::Setting {
                origin: format!("--{}", setting.flag()),
                message,
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn no_env(_: &str) -> Option<OsString> {
        None
    }

    fn with_flags(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let flags: Vec<(&str, String)> = pairs.iter().map(|(k, v)| (*k, v.to_string())).collect();
        resolve(None, &no_env, &flags)
    }

    fn invalid(pairs: &[(&str, &str)]) {
        assert!(
            matches!(with_flags(pairs), Err(ConfigError::Invalid(_))),
            "{pairs:?}"
        );
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chinwagd.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nheartbeat = \"10s\"\nmax_content = 1000\nmax_name = 20\n",
        )
        .unwrap();
        let env: HashMap<&str, &str> = [
            ("CHINWAG_HEARTBEAT", "20s"),
            ("CHINWAG_MAX_NAME", "24"),
            ("CHINWAG_SHUTDOWN_GRACE", ""),
            ("CHINWAG_NOT_A_SETTING", "x"),
        ]
        .into();
        let env = |var: &str| env.get(var).map(OsString::from);
        let flags = [("max_name", "28".to_owned())];
        let config = resolve(Some(&path), &env, &flags).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9000", "file beats default");
        assert_eq!(config.limits.max_content, 1000, "file beats default");
        assert_eq!(config.heartbeat, Duration::from_secs(20), "env beats file");
        assert_eq!(config.limits.max_name, 28, "flag beats env and file");
        assert_eq!(
            config.shutdown_grace,
            Duration::from_secs(5),
            "default; an empty variable is unset"
        );
        assert_eq!(config.max_rooms, Config::default().max_rooms, "default");
    }

    /// Every setting, through the file and through flags, fills its own
    /// field (a row pointing at the wrong field fails here).
    #[test]
    fn every_setting_fills_its_field() {
        let every = [
            ("listen", "10.0.0.1:1"),
            ("admin_password", "pw"),
            ("server_name", "name"),
            ("server_description", "about"),
            ("server_password", "door"),
            ("metrics_listen", "10.0.0.1:2"),
            ("tls_cert", "c.pem"),
            ("tls_key", "k.pem"),
            ("tls_listen", "10.0.0.1:3"),
            ("web", "false"),
            ("web_listen", "10.0.0.1:4"),
            ("web_origins", "https://a.example,https://b.example"),
            ("web_trusted_proxies", "10.0.0.0/8"),
            ("irc_listen", "10.0.0.1:4"),
            ("irc_tls_listen", "10.0.0.1:5"),
            ("signup", "closed"),
            ("guests", "deny"),
            ("max_register_attempts", "4"),
            ("password_free_attempts", "5"),
            ("max_connections", "6"),
            ("max_connections_per_ip", "7"),
            ("limit_loopback", "true"),
            ("proxy_protocol", "true"),
            ("max_sessions", "3"),
            ("heartbeat", "8s"),
            ("handshake_timeout", "9s"),
            ("shutdown_grace", "10s"),
            ("outbox_frames", "11"),
            ("outbox_bytes", "12"),
            ("max_bad_frames", "13"),
            ("max_frame", "14"),
            ("max_content", "15"),
            ("max_name", "16"),
            ("max_rooms", "17"),
            ("max_rooms_per_user", "18"),
            ("presence_limit", "19"),
            ("rate_requests", "20"),
            ("rate_request_burst", "21"),
            ("rate_bytes", "22"),
            ("rate_byte_burst", "23"),
            ("rate_max_lag", "24s"),
            ("admin_rate_multiplier", "25"),
            ("data", "/d"),
            ("durability", "normal"),
            ("database", "postgres://db/x"),
            ("database_ca", "/db-ca.pem"),
            ("database_pool", "30"),
            ("history_max_age", "26s"),
            ("history_max_count", "27"),
            ("cluster", "nats://a:1,nats://b:2"),
            ("cluster_ca", "/nats-ca.pem"),
            ("node_id", "n28"),
            ("node_timeout", "29s"),
        ];
        let secs = Duration::from_secs;
        let expected = Config {
            listen: "10.0.0.1:1".into(),
            admin_password: Some("pw".into()),
            server_name: "name".into(),
            server_description: "about".into(),
            server_password: Some("door".into()),
            metrics_listen: Some("10.0.0.1:2".into()),
            tls_cert: Some("c.pem".into()),
            tls_key: Some("k.pem".into()),
            tls_listen: Some("10.0.0.1:3".into()),
            web: false,
            web_listen: "10.0.0.1:4".into(),
            web_origins: vec!["https://a.example".into(), "https://b.example".into()],
            web_trusted_proxies: vec!["10.0.0.0/8".into()],
            irc_listen: Some("10.0.0.1:4".into()),
            irc_tls_listen: Some("10.0.0.1:5".into()),
            signup: Signup::Closed,
            guests: Guests::Deny,
            max_register_attempts: 4,
            password_free_attempts: 5,
            max_connections: 6,
            max_connections_per_ip: 7,
            limit_loopback: true,
            proxy_protocol: true,
            max_sessions: 3,
            heartbeat: secs(8),
            handshake_timeout: secs(9),
            shutdown_grace: secs(10),
            outbox_frames: 11,
            outbox_bytes: 12,
            max_bad_frames: 13,
            limits: Limits {
                max_frame: 14,
                max_content: 15,
                max_name: 16,
            },
            max_rooms: 17,
            max_rooms_per_user: 18,
            presence_limit: 19,
            rate: RateLimits {
                requests_per_sec: 20,
                request_burst: 21,
                bytes_per_sec: 22,
                byte_burst: 23,
                max_lag: secs(24),
                admin_multiplier: 25,
            },
            data_dir: Some("/d".into()),
            durability: Durability::Normal,
            database: Some("postgres://db/x".into()),
            database_ca: Some("/db-ca.pem".into()),
            database_pool: 30,
            history_max_age: Some(secs(26)),
            history_max_count: Some(27),
            cluster: vec!["nats://a:1".into(), "nats://b:2".into()],
            cluster_ca: Some("/nats-ca.pem".into()),
            node_id: Some("n28".into()),
            node_timeout: secs(29),
        };
        assert_eq!(every.len(), settings().count(), "a value for each");

        let flags: Vec<(&str, String)> = every.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let mut config = Config::default();
        apply_flags(&mut config, &flags).unwrap();
        assert_eq!(config, expected, "from flags");

        // The file writes numbers and booleans as TOML's own.
        let file: String = every
            .iter()
            .map(|(key, value)| {
                if value.parse::<u64>().is_ok() || *value == "true" || *value == "false" {
                    format!("{key} = {value}\n")
                } else {
                    format!("{key} = {value:?}\n")
                }
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("every.toml");
        std::fs::write(&path, file).unwrap();
        let mut config = Config::default();
        apply_file(&mut config, &path).unwrap();
        assert_eq!(config, expected, "from the file");
    }

    /// The default `--help` shows for a setting reads back as the real
    /// default; a setting without one says what that means.
    #[test]
    fn every_default_text_reads_back_as_the_default() {
        let defaults = Config::default();
        for setting in settings() {
            let shown = setting.show(&defaults);
            assert_eq!(
                shown.is_none(),
                !setting.unset.is_empty(),
                "{}: an unset phrase exactly when there is no default value",
                setting.name
            );
            let Some(text) = shown else { continue };
            assert_eq!(setting.default_text(), text);
            let mut config = Config::default();
            setting.read(&mut config, Input::Text(&text)).unwrap();
            assert_eq!(config, defaults, "{}: {text:?}", setting.name);
        }
    }

    #[test]
    fn names_are_unique_and_follow_one_rule() {
        let mut seen = std::collections::HashSet::new();
        for setting in settings() {
            assert!(seen.insert(setting.name), "{} twice", setting.name);
            assert!(
                setting
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                setting.name
            );
        }
        let heartbeat = setting_named("heartbeat").unwrap();
        assert_eq!(heartbeat.flag(), "heartbeat");
        let per_ip = setting_named("max_connections_per_ip").unwrap();
        assert_eq!(per_ip.flag(), "max-connections-per-ip");
        assert_eq!(per_ip.env_var(), "CHINWAG_MAX_CONNECTIONS_PER_IP");
        assert_eq!(setting_named("data").unwrap().env_var(), "CHINWAG_DATA");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        let from_file = |text: &str| {
            std::fs::write(&path, text).unwrap();
            resolve(Some(&path), &no_env, &[]).unwrap_err().to_string()
        };
        let error = from_file("lisen = \"x\"\n");
        assert!(
            error.contains("key lisen: there is no such setting"),
            "{error}"
        );
        let error = from_file("max_frame = \"big\"\n");
        assert!(
            error.contains("key max_frame: expected a number"),
            "{error}"
        );
        let error = from_file("heartbeat = 30\n");
        assert!(
            error.contains("key heartbeat: expected a string"),
            "{error}"
        );
        let error = from_file("limit_loopback = \"yes\"\n");
        assert!(error.contains("expected true or false"), "{error}");
        let error = from_file("max_name = -1\n");
        assert!(error.contains("-1 is not a whole number"), "{error}");
        assert!(matches!(
            resolve(Some(&path), &no_env, &[]),
            Err(ConfigError::Setting { .. })
        ));
        std::fs::write(&path, "listen = \n").unwrap();
        assert!(matches!(
            resolve(Some(&path), &no_env, &[]),
            Err(ConfigError::Parse { .. })
        ));

        let env = |var: &str| (var == "CHINWAG_HEARTBEAT").then(|| OsString::from("soon"));
        let error = resolve(None, &env, &[]).unwrap_err().to_string();
        assert!(
            error.starts_with("environment variable CHINWAG_HEARTBEAT: \"soon\" is not a duration"),
            "{error}"
        );
        let error = with_flags(&[("signup", "maybe")]).unwrap_err().to_string();
        assert!(
            error.contains("--signup: \"maybe\" is not one of: open, closed"),
            "{error}"
        );
        let error = with_flags(&[("max_rooms", "many")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("--max-rooms: \"many\""), "{error}");
        invalid(&[("no_such_setting", "1")]);
        invalid(&[("max_content", "9000")]);
    }

    #[test]
    fn hardening_settings_are_checked_together() {
        invalid(&[("tls_cert", "cert.pem")]);
        invalid(&[("tls_listen", "127.0.0.1:0")]);
        invalid(&[("irc_tls_listen", "127.0.0.1:0")]);
        invalid(&[("rate_byte_burst", "100")]);
        invalid(&[("max_name", "33")]);
        invalid(&[("max_connections_per_ip", "0")]);
        let config = with_flags(&[
            ("rate_requests", "0"),
            ("limit_loopback", "true"),
            ("tls_cert", "c.pem"),
            ("tls_key", "k.pem"),
        ])
        .unwrap();
        assert_eq!(config.rate.requests_per_sec, 0, "0 turns it off");
        assert!(config.limit_loopback);
        assert_eq!(config.tls().unwrap().key, PathBuf::from("k.pem"));
    }

    #[test]
    fn cluster_settings() {
        invalid(&[("cluster", "nats://host")]);
        invalid(&[("cluster", "tls://host")]);
        invalid(&[("database_ca", "/ca.pem")]);
        invalid(&[("cluster_ca", "/ca.pem")]);
        invalid(&[("cluster", "nats://host:4222"), ("node_id", "a.b")]);
        invalid(&[("node_id", "n1")]);
        invalid(&[("cluster", "nats://host:4222"), ("node_timeout", "100ms")]);
        invalid(&[("database", "mysql://db")]);
        assert!(
            Config::default().cluster.is_empty(),
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
        let config = resolve(Some(&path), &no_env, &[]).unwrap();
        assert_eq!(config.cluster, ["nats://a:4222", "nats://b:4222"]);
        assert_eq!(config.node_id.as_deref(), Some("n1"));
        assert_eq!(config.node_timeout, Duration::from_secs(3));
        assert_eq!(config.database.as_deref(), Some("postgres://db/chat"));
        std::fs::write(&path, "cluster = [\"nats://a:4222\"]\n").unwrap();
        let config = resolve(Some(&path), &no_env, &[]).unwrap();
        assert_eq!(config.cluster, ["nats://a:4222"]);
        let node = config.node_id.clone().unwrap();
        assert!(node.starts_with("n-"), "generated at resolve: {node}");
    }
}
