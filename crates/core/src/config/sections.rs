//! Every setting of `chinwagd`, one row each, in the sections `--help`
//! shows. The rate limits' rows are in [`crate::ratelimit`], beside the
//! limits they set; their defaults are wherever the field's type defines
//! them ([`super::Config::default()`], `chinwag_proto::Limits::DEFAULT`,
//! [`crate::ratelimit::RateLimits::DEFAULT`]).

use super::setting::{Section, setting};

/// All sections, in the order `chinwagd --help` lists them.
pub const SECTIONS: &[Section] = &[
    SERVER,
    TLS,
    WEB,
    ACCOUNTS,
    CONNECTIONS,
    LIMITS,
    crate::ratelimit::SETTINGS,
    STORAGE,
    CLUSTER,
];

const SERVER: Section = Section {
    heading: "Server",
    settings: &[
        setting!(
            "listen",
            listen: String,
            "ADDR",
            "Address to listen on for the native protocol"
        ),
        setting!(
            "admin_password",
            admin_password: Option<String>,
            "PASSWORD",
            "Password of the ADMIN command"
        )
        .when_unset("generated and logged at start-up"),
        setting!(
            "server_password",
            server_password: Option<String>,
            "PASSWORD",
            "Password every connection must give before it registers (IRC's \
             PASS, HELLO's server_password on the native and web protocols)"
        )
        .when_unset("none: anyone may connect"),
        setting!(
            "server_name",
            server_name: String,
            "NAME",
            "Server name announced to clients"
        ),
        setting!(
            "server_description",
            server_description: String,
            "TEXT",
            "One line about the server, shown where IRC shows a server's info \
             (LINKS)"
        ),
        setting!(
            "irc_listen",
            irc_listen: Option<String>,
            "ADDR",
            "Address to listen on for IRC clients (`off`: no IRC listener; \
             docs/irc.md)"
        )
        .when_unset("127.0.0.1:6667, skipped with a warning when that is taken"),
        setting!(
            "metrics_listen",
            metrics_listen: Option<String>,
            "ADDR",
            "Serve Prometheus /metrics and /healthz over HTTP on this address \
             (keep it on loopback or a private network)"
        )
        .when_unset("off"),
    ],
};

const TLS: Section = Section {
    heading: "TLS",
    settings: &[
        setting!(
            "tls_cert",
            tls_cert: Option<std::path::PathBuf>,
            "FILE",
            "TLS certificate chain (PEM); with --tls-key, serves TLS on \
             --tls-listen, or on --listen if that is not given"
        )
        .when_unset("none, no TLS"),
        setting!(
            "tls_key",
            tls_key: Option<std::path::PathBuf>,
            "FILE",
            "TLS private key (PEM)"
        )
        .when_unset("none"),
        setting!(
            "tls_listen",
            tls_listen: Option<String>,
            "ADDR",
            "Address of a TLS listener beside the plain one on --listen"
        )
        .when_unset("none, --listen serves TLS"),
        setting!(
            "irc_tls_listen",
            irc_tls_listen: Option<String>,
            "ADDR",
            "Address of a TLS listener for IRC clients, with the certificate \
             of --tls-cert"
        )
        .when_unset("none"),
    ],
};

const WEB: Section = Section {
    heading: "Web",
    settings: &[
        setting!(
            "web",
            web: bool,
            "BOOL",
            "Serve the web client and its WebSocket on --web-listen (--web false \
             turns them off); TLS with --tls-cert and --tls-key when those are given"
        ),
        setting!(
            "web_listen",
            web_listen: String,
            "ADDR",
            "Address of the web listener: the web client at /, the WebSocket at /ws"
        ),
        setting!(
            "web_origins",
            web_origins: Vec<String>,
            "ORIGINS",
            "Origins, besides the web listener's own host, whose pages may open \
             the WebSocket, comma-separated (https://chat.example.org)"
        )
        .when_unset("the listener's own host only"),
        setting!(
            "web_trusted_proxies",
            web_trusted_proxies: Vec<String>,
            "ADDRS",
            "Reverse proxies in front of the web listener whose X-Forwarded-For \
             header names the client, comma-separated addresses or networks \
             (10.0.0.0/8); from anyone else the header is ignored"
        )
        .when_unset("none, the header is ignored"),
    ],
};

const ACCOUNTS: Section = Section {
    heading: "Accounts",
    settings: &[
        setting!(
            "signup",
            signup: super::Signup,
            "POLICY",
            "Whether registering a new name with a password creates an account \
             (closed: only `chinwagd admin add` creates accounts)"
        ),
        setting!(
            "guests",
            guests: super::Guests,
            "POLICY",
            "Whether names that are not accounts may be used without a password"
        ),
        setting!(
            "max_register_attempts",
            max_register_attempts: u32,
            "N",
            "REGISTER attempts allowed on one connection before it is closed"
        ),
        setting!(
            "password_free_attempts",
            password_free_attempts: u32,
            "N",
            "Wrong passwords allowed per connection before lock-outs start"
        ),
    ],
};

const CONNECTIONS: Section = Section {
    heading: "Connections",
    settings: &[
        setting!(
            "max_connections",
            max_connections: usize,
            "N",
            "Most connections at once"
        ),
        setting!(
            "max_connections_per_ip",
            max_connections_per_ip: usize,
            "N",
            "Most connections at once from one IP address"
        ),
        setting!(
            "limit_loopback",
            limit_loopback: bool,
            "BOOL",
            "Apply --max-connections-per-ip to loopback addresses too (they \
             are exempt otherwise)"
        ),
        setting!(
            "proxy_protocol",
            proxy_protocol: bool,
            "BOOL",
            "The client listeners are behind a trusted proxy that sends a PROXY \
             protocol header (v1 or v2) first; the addresses it gives are used for \
             limits, bans and logs (see docs/security.md)"
        ),
        setting!(
            "max_sessions",
            max_sessions: usize,
            "N",
            "Most sessions one account may have online at once (clients that ask \
             to share their account; a guest has one)"
        ),
        setting!(
            "heartbeat",
            heartbeat: std::time::Duration,
            "DURATION",
            "Keep-alive interval announced to clients; idle connections are \
             closed after twice this"
        ),
        setting!(
            "handshake_timeout",
            handshake_timeout: std::time::Duration,
            "DURATION",
            "Time allowed between connecting and REGISTER"
        ),
        setting!(
            "shutdown_grace",
            shutdown_grace: std::time::Duration,
            "DURATION",
            "Time allowed to flush queued frames on shutdown"
        ),
        setting!(
            "outbox_frames",
            outbox_frames: usize,
            "N",
            "Most frames queued for one connection"
        ),
        setting!(
            "outbox_bytes",
            outbox_bytes: usize,
            "BYTES",
            "Most bytes queued for one connection"
        ),
        setting!(
            "max_bad_frames",
            max_bad_frames: u32,
            "N",
            "Undecodable frames tolerated per connection"
        ),
    ],
};

const LIMITS: Section = Section {
    heading: "Limits",
    settings: &[
        setting!(
            "max_frame",
            limits.max_frame: u32,
            "BYTES",
            "Largest frame accepted from a client"
        ),
        setting!(
            "max_content",
            limits.max_content: u32,
            "BYTES",
            "Longest message text"
        ),
        setting!(
            "max_name",
            limits.max_name: u16,
            "BYTES",
            "Longest user name, 1 to 32"
        ),
        setting!(
            "max_rooms",
            max_rooms: usize,
            "N",
            "Most rooms on the server"
        ),
        setting!(
            "max_rooms_per_user",
            max_rooms_per_user: usize,
            "N",
            "Most rooms one user may be in"
        ),
        setting!(
            "presence_limit",
            presence_limit: usize,
            "N",
            "Announce joins and leaves only while at most this many users are \
             online"
        ),
    ],
};

const STORAGE: Section = Section {
    heading: "Storage",
    settings: &[
        setting!(
            "data",
            data_dir: Option<std::path::PathBuf>,
            "DIR",
            "Data directory: the database of accounts, history, mutes, bans \
             and the audit log; created on first start"
        )
        .when_unset("$XDG_DATA_HOME/chinwag or ~/.local/share/chinwag"),
        setting!(
            "durability",
            durability: super::Durability,
            "LEVEL",
            "full: every acknowledged write is synced to disk (survives power \
             loss); normal: synced at checkpoints (survives a crash of \
             chinwagd, not of the machine)"
        ),
        setting!(
            "database",
            database: Option<String>,
            "URL",
            "Keep everything in this PostgreSQL database instead of the \
             embedded one (postgres://USER[:PASSWORD]@HOST[:PORT]/DB); the \
             nodes of a cluster share one"
        )
        .when_unset("the embedded database in --data"),
        setting!(
            "database_ca",
            database_ca: Option<std::path::PathBuf>,
            "FILE",
            "Trust the certificate authorities in this PEM file, besides the \
             system's, for a --database URL with sslmode=require (TLS, the \
             server's certificate checked against its host name)"
        )
        .when_unset("the system's only"),
        setting!(
            "database_pool",
            database_pool: usize,
            "N",
            "Most connections to the --database this node keeps open; the \
             nodes of a cluster together must stay within the database's \
             max_connections"
        ),
        setting!(
            "history_max_age",
            history_max_age: Option<std::time::Duration>,
            "DURATION",
            "Delete messages older than this, like 30d"
        )
        .when_unset("keep"),
        setting!(
            "history_max_count",
            history_max_count: Option<u64>,
            "N",
            "Keep at most this many messages"
        )
        .when_unset("no limit"),
    ],
};

const CLUSTER: Section = Section {
    heading: "Cluster",
    settings: &[
        setting!(
            "cluster",
            cluster: Vec<String>,
            "URLS",
            "Cluster mode: join the other nodes through these NATS servers \
             (JetStream on), comma-separated nats://HOST:PORT, or \
             tls://HOST:PORT for TLS; see docs/cluster.md"
        )
        .when_unset("off, a single node"),
        setting!(
            "cluster_ca",
            cluster_ca: Option<std::path::PathBuf>,
            "FILE",
            "Trust the certificate authorities in this PEM file, besides the \
             system's, for tls://HOST:PORT NATS servers in --cluster"
        )
        .when_unset("the system's only"),
        setting!(
            "node_id",
            node_id: Option<String>,
            "ID",
            "This node's id in the cluster: letters, digits, '_' and '-'"
        )
        .when_unset("generated"),
        setting!(
            "node_timeout",
            node_timeout: std::time::Duration,
            "DURATION",
            "A node silent for this long is taken for dead and its users' \
             names are freed"
        ),
    ],
};
