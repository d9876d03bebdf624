//! `chinwagd`: the chinwag chat server.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chinwag_proto::server::Timestamp;
use chinwag_proto::{NameKey, UserName};
use chinwag_server::config::{self, Config, Setting, Shape};
use chinwag_server::server::Protocol;
use chinwag_server::store::{
    AuditAction, AuditRecord, PostgresStore, SqliteStore, Store, StoreError,
};
use chinwag_server::{Server, accounts};
use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgAction, ArgMatches, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// The chinwag chat server.
///
/// Starts with embedded defaults: no config file and no other service is
/// needed. Settings come, from lowest to highest priority, from the built-in
/// defaults, the config file (TOML, keys named like the flags with `_`
/// instead of `-`), environment variables (CHINWAG_*), and flags.
///
/// Without an admin password (--admin-password, CHINWAG_ADMIN_PASSWORD or
/// `admin_password` in the config file) a strong one is generated and
/// logged once at start-up.
///
/// Accounts, history, mutes, bans and the audit log are kept in an embedded
/// SQLite database in the data directory (--data), created on first start,
/// or in a PostgreSQL database (--database), which the nodes of a cluster
/// share.
///
/// SIGINT and SIGTERM shut the server down gracefully: every client is
/// told, queued messages are delivered, connections are closed, and the
/// process exits 0.
#[derive(Debug, Parser)]
#[command(name = "chinwagd", version, about, long_about, after_help = EXAMPLES)]
struct Cli {
    /// Config file (TOML)
    #[arg(long, short, env = "CHINWAG_CONFIG")]
    config: Option<PathBuf>,

    /// Log filter: error, warn, info, debug, trace, or a tracing directive
    /// such as `chinwag_server=debug`
    #[arg(long, env = "CHINWAG_LOG", default_value = "info")]
    log: String,

    #[command(flatten)]
    settings: SettingFlags,

    /// Without a command, run the server.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a certificate for trying TLS out: a throw-away certificate
    /// authority (ca.pem, for `chinwag --ca-file`) and a server certificate
    /// it signed (cert.pem and key.pem, for --tls-cert and --tls-key).
    ///
    /// For local use only: a public server should use a certificate from a
    /// real certificate authority.
    Cert {
        /// Directory to write ca.pem, cert.pem and key.pem into
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Names the certificate is valid for: DNS names or IP addresses
        #[arg(long = "name", value_name = "NAME", default_values = ["localhost", "127.0.0.1", "::1"])]
        names: Vec<String>,
    },
    /// Manage accounts and the administrator role directly in the data
    /// directory, while no chinwagd runs on it (a running server is
    /// administered over the network: `chinwag admin ...`).
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an account (the way to make accounts when sign-up is closed).
    Add {
        /// The account's name.
        name: String,
        /// Its password, 8 to 256 bytes.
        #[arg(long, env = "CHINWAG_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Give an account the administrator role.
    Grant {
        /// The account's name.
        name: String,
    },
    /// Take the administrator role from an account.
    Revoke {
        /// The account's name.
        name: String,
    },
    /// List the accounts that hold the administrator role.
    List,
}

/// The flags of the server's settings, one per row of the library's table
/// (`config::SECTIONS`), where each setting's name, help and default are
/// declared; the environment and the config file are read by
/// `config::resolve`, from the same rows.
#[derive(Debug)]
struct SettingFlags {
    /// (setting name, value) for each setting given on the command line.
    given: Vec<(&'static str, String)>,
}

/// The settings `chinwagd admin` uses: accepted after `admin` too.
const ADMIN_SETTINGS: &[&str] = &["data", "database", "durability"];

impl clap::Args for SettingFlags {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for section in config::SECTIONS {
            for setting in section.settings {
                cmd = cmd.arg(flag(section.heading, setting));
            }
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl clap::FromArgMatches for SettingFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let given = config::settings()
            .filter_map(|setting| {
                let values: Vec<&str> = matches
                    .get_many::<String>(setting.name)?
                    .map(String::as_str)
                    .collect();
                // A list given several times is one list.
                Some((setting.name, values.join(",")))
            })
            .collect();
        Ok(SettingFlags { given })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// A setting's flag. It has no clap default (the layers below the flags
/// would never show through): its help shows the default from the row.
fn flag(heading: &'static str, setting: &'static Setting) -> Arg {
    let default = setting.default_text();
    let check = move |text: &str| setting.check(text).map(|()| text.to_owned());
    let arg = Arg::new(setting.name)
        .long(setting.flag())
        .value_name(setting.value_name)
        .help(format!("{} [default: {default}]", setting.help))
        .long_help(format!(
            "{}\n\n[env: {}]\n[default: {default}]",
            setting.help,
            setting.env_var()
        ))
        .help_heading(heading)
        .global(ADMIN_SETTINGS.contains(&setting.name));
    match setting.shape {
        Shape::Value => arg.value_parser(check),
        Shape::Switch => arg
            .value_parser(check)
            .num_args(0..=1)
            .default_missing_value("true"),
        Shape::List => arg.value_parser(check).action(ArgAction::Append),
        Shape::Choice(names) => arg.value_parser(PossibleValuesParser::new(names)),
    }
}

const EXAMPLES: &str = "\
Examples:
  chinwagd                                   listen on 127.0.0.1:7070
  chinwagd --listen 0.0.0.0:7070 --admin-password s3cret
  chinwagd --data /var/lib/chinwag --signup closed
  CHINWAG_HEARTBEAT=15s chinwagd --config /etc/chinwag/chinwagd.toml
  chinwagd cert --out tls && chinwagd --tls-cert tls/cert.pem --tls-key tls/key.pem
                                             TLS only, on 127.0.0.1:7070
  chinwagd --tls-cert tls/cert.pem --tls-key tls/key.pem --tls-listen 127.0.0.1:7443
                                             plain on 7070 and TLS on 7443
  chinwagd --metrics-listen 127.0.0.1:9090   Prometheus /metrics and /healthz
  chinwagd admin add alice --password '…'     create an account (with --signup closed)
  chinwagd admin grant alice                 make the account alice an administrator
  chinwagd admin list
  chinwagd --cluster nats://127.0.0.1:4222 --node-id n1 --listen 127.0.0.1:7071 \\
           --database postgres://chinwag@127.0.0.1/chinwag
                                             one node of a cluster (docs/cluster.md)";

/// Runs chinwagd; an error is one line on stderr and exit status 1. (The
/// `Debug` form `main` would print for an `anyhow::Result` adds a
/// backtrace under RUST_BACKTRACE=1: noise for an expected error.)
fn main() -> ExitCode {
    give_large_blocks_back();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&anyhow::Error::new(error).context("cannot start the runtime")),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

/// Has glibc map blocks of 1 MiB and more on their own and unmap them
/// when freed. Its default raises that threshold to the largest block
/// freed so far: after the first password hash (argon2 takes 19 MiB) the
/// next ones came from the heaps of the threads that ran them, and stayed
/// there, about 19 MiB per thread that ever hashed (734 MiB after 80
/// accounts were created at once, 16 MiB with this; docs/BENCHMARKS.md).
fn give_large_blocks_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn fail(error: &anyhow::Error) -> ExitCode {
    // `{:#}`: the error and its causes on one line.
    eprintln!("error: {error:#}");
    ExitCode::FAILURE
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&cli.log).context("invalid --log filter")?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    if let Some(Command::Cert { out, names }) = cli.command {
        let files = chinwag_server::tls::generate(&out, &names)?;
        println!(
            "wrote {}, {} and {}\nserve:   chinwagd --tls-cert {} --tls-key {}\nconnect: chinwag --ca-file {} ...",
            files.ca.display(),
            files.cert.display(),
            files.key.display(),
            files.cert.display(),
            files.key.display(),
            files.ca.display(),
        );
        return Ok(());
    }

    let mut config = config::resolve(
        cli.config.as_deref(),
        &|var| std::env::var_os(var),
        &cli.settings.given,
    )?;
    let data_dir = config
        .data_dir
        .get_or_insert_with(config::default_data_dir)
        .clone();
    if let Some(Command::Admin(command)) = cli.command {
        return admin(&config, command).await;
    }
    let generated = config.admin_password.is_none();
    let database = config.database.clone();
    let server = Server::bind(config).await?;
    // Before anything says "listening": a SIGTERM sent by whoever read
    // that line is then a clean shutdown, never the default action.
    let signalled = signals();
    match database {
        Some(_) => tracing::info!("PostgreSQL database open"),
        None => tracing::info!(data = %data_dir.display(), "database open"),
    }
    if generated {
        tracing::warn!(
            "no admin password configured; generated for this run: {}",
            server.admin_password()
        );
    }
    if let Some(addr) = server.metrics_addr() {
        tracing::info!(%addr, "metrics listening");
    }
    if let Some(url) = server.web_url() {
        tracing::info!(%url, "web listening");
        // For the person who just started it: where to point a browser.
        if std::io::stderr().is_terminal() {
            eprintln!("\n  chinwag is running: open {url} in a browser\n");
        }
    }
    // The main listener (--listen) is logged last, so that a script that
    // reads the log up to "chinwagd listening" has seen every address.
    let listeners = server.listen_addrs()?;
    for extra in &listeners[1..] {
        match (extra.protocol, extra.tls) {
            (Protocol::Irc, false) => tracing::info!(addr = %extra.addr, "IRC listening"),
            (Protocol::Irc, true) => tracing::info!(addr = %extra.addr, "IRC listening with TLS"),
            (Protocol::Native, _) => tracing::info!(addr = %extra.addr, "TLS listening"),
        }
    }
    let main = listeners[0];
    let transport = if main.tls { "tls" } else { "tcp" };
    tracing::info!(transport = %transport, addr = %main.addr, "chinwagd listening");

    let handle = server.handle();
    tokio::spawn(async move {
        let reason = signalled.await;
        tracing::info!("{reason}; shutting down");
        handle.shut_down(&format!("the server is shutting down ({reason})"));
    });
    server.serve().await?;
    Ok(())
}

/// `chinwagd admin ...`: role changes straight in the database, logged in
/// the audit log with the actor `@console`.
async fn admin(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    let (store, place): (Box<dyn Store>, String) = match &config.database {
        Some(url) => (
            Box::new(PostgresStore::connect_trusting(url, config.database_ca.as_deref()).await?),
            "the database".to_owned(),
        ),
        None => {
            let dir = config
                .data_dir
                .clone()
                .unwrap_or_else(config::default_data_dir);
            let store =
                SqliteStore::open(&dir, config.durability).map_err(|error| match error {
                    StoreError::InUse { .. } => anyhow::anyhow!(
                        "{error} (chinwagd admin needs the server stopped; a running \
                         server is administered with `chinwag admin ...`)"
                    ),
                    other => other.into(),
                })?;
            let place = store.path().display().to_string();
            (Box::new(store), place)
        }
    };
    let store = &*store;
    let result = match command {
        AdminCommand::List => {
            for name in store.admins().await? {
                println!("{name}");
            }
            Ok(())
        }
        AdminCommand::Add { name, password } => add_account(store, &name, password).await,
        AdminCommand::Grant { name } => set_role(store, &place, &name, true).await,
        AdminCommand::Revoke { name } => set_role(store, &place, &name, false).await,
    };
    store.close().await?;
    result
}

async fn add_account(store: &dyn Store, name: &str, password: String) -> anyhow::Result<()> {
    let parsed = UserName::parse(name).with_context(|| format!("invalid name {name:?}"))?;
    accounts::check_new_password(&password).map_err(|e| anyhow::anyhow!(e.message))?;
    let hash = accounts::hash(password)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    if !store
        .create_account(parsed.clone(), hash, Timestamp::now())
        .await?
    {
        anyhow::bail!("{parsed} is already an account");
    }
    println!("created the account {parsed}");
    Ok(())
}

async fn set_role(store: &dyn Store, place: &str, name: &str, admin: bool) -> anyhow::Result<()> {
    let parsed = UserName::parse(name).with_context(|| format!("invalid name {name:?}"))?;
    let key: NameKey = parsed.key();
    let audit = AuditRecord {
        ts: Timestamp::now(),
        actor: "@console".into(),
        action: if admin {
            AuditAction::Grant
        } else {
            AuditAction::Revoke
        },
        target: parsed.to_string(),
        until: 0,
        reason: String::new(),
    };
    if !store.set_admin(key, admin, audit).await? {
        anyhow::bail!("there is no account named {name:?} in {place}");
    }
    if admin {
        println!("{parsed} is now an administrator (from its next login)");
    } else {
        println!("{parsed} is no longer an administrator (from its next login)");
    }
    Ok(())
}

/// Takes over SIGINT and SIGTERM now; the future names the first to come.
fn signals() -> impl std::future::Future<Output = &'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            let recv = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = recv(int) => "received SIGINT",
                () = recv(term) => "received SIGTERM",
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
            "received Ctrl-C"
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use clap::CommandFactory;

    use super::*;

    fn no_env(_: &str) -> Option<OsString> {
        None
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("chinwagd").chain(args.iter().copied()))
    }

    /// The default `help` shows for `setting`, from its flag's entry.
    fn shown_default(help: &str, setting: &Setting) -> String {
        // An entry starts on a line of its own: "      --listen <ADDR>".
        let flag = format!("\n      --{} ", setting.flag());
        let entry = &help[help
            .find(&flag)
            .unwrap_or_else(|| panic!("{flag} in {help}"))..];
        let start = entry.find("[default: ").expect("a default") + "[default: ".len();
        let next_flag = entry[flag.len()..]
            .find("\n      --")
            .map(|at| at + flag.len());
        assert!(
            next_flag.is_none_or(|next| start < next),
            "{flag} has no default of its own"
        );
        let end = start + entry[start..].find(']').expect("closing ]");
        entry[start..end].to_owned()
    }

    /// The defaults `chinwagd --help` and `-h` show, given back as flags,
    /// make exactly `Config::default()`; a setting without a default says
    /// what that means and has none.
    #[test]
    fn help_shows_the_real_defaults() {
        let long = Cli::command().render_long_help().to_string();
        let short = Cli::command().render_help().to_string();
        let mut args = Vec::new();
        for setting in config::settings() {
            let shown = shown_default(&long, setting);
            assert_eq!(shown, shown_default(&short, setting), "{}", setting.name);
            assert!(
                long.contains(&format!("[env: {}]", setting.env_var())),
                "{}",
                setting.name
            );
            match setting.show(&Config::default()) {
                Some(_) => args.push(format!("--{}={shown}", setting.flag())),
                None => assert_eq!(shown, setting.unset, "{}", setting.name),
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let cli = parse(&args).unwrap();
        let config = config::resolve(None, &no_env, &cli.settings.given).unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn flags_beat_the_environment_which_beats_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("chinwagd.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nmax_name = 20\nheartbeat = \"10s\"\n\
             cluster = \"nats://file:1\"\n",
        )
        .unwrap();
        let cli = parse(&[
            "--config",
            file.to_str().unwrap(),
            "--max-name",
            "28",
            "--limit-loopback",
            "--cluster",
            "nats://a:1",
            "--cluster",
            "nats://b:2,nats://c:3",
        ])
        .unwrap();
        let env = |var: &str| match var {
            "CHINWAG_HEARTBEAT" => Some("20s".into()),
            "CHINWAG_MAX_NAME" => Some("24".into()),
            _ => None,
        };
        let config = config::resolve(cli.config.as_deref(), &env, &cli.settings.given).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9000", "the file");
        assert_eq!(config.heartbeat, std::time::Duration::from_secs(20), "env");
        assert_eq!(config.limits.max_name, 28, "the flag");
        assert!(config.limit_loopback, "a switch alone is true");
        assert_eq!(
            config.cluster,
            ["nats://a:1", "nats://b:2", "nats://c:3"],
            "a list given twice is one list, and replaces the file's"
        );
        assert_eq!(config.max_rooms, Config::default().max_rooms, "default");
    }

    #[test]
    fn flags_are_checked_where_they_are_given() {
        let cli = parse(&[
            "admin",
            "list",
            "--data",
            "/srv/chat",
            "--durability",
            "normal",
        ]);
        let given = cli.unwrap().settings.given;
        assert_eq!(
            given,
            [
                ("data", "/srv/chat".to_owned()),
                ("durability", "normal".to_owned())
            ],
            "the admin command's settings go after it too"
        );
        let cli = parse(&["--limit-loopback=false"]).unwrap();
        assert_eq!(cli.settings.given, [("limit_loopback", "false".to_owned())]);

        let error = parse(&["--heartbeat", "soon"]).unwrap_err().to_string();
        assert!(error.contains("\"soon\" is not a duration"), "{error}");
        let error = parse(&["--signup", "maybe"]).unwrap_err().to_string();
        assert!(error.contains("possible values: open, closed"), "{error}");
        let error = parse(&["--listen", "a:1", "--listen", "b:2"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(parse(&["--max-rooms", "-1"]).is_err());
    }
}
