//! Connecting and registering, shared by every command.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use chinwag_client::{
    Client, ClientError, ConnectOptions, ErrorCode, Events, RegisterOptions, Registered, TlsOptions,
};

use crate::exit::Failure;

/// How long a polite LOGOUT may take before the program exits anyway.
const LOGOUT_TIMEOUT: Duration = Duration::from_secs(2);

/// Where to connect and who to be.
#[derive(Clone, Debug)]
pub struct Target {
    pub server: String,
    pub name: String,
    pub password: Option<String>,
    /// Connect over TLS with these options.
    pub tls: Option<TlsOptions>,
}

/// Whether a session shows incoming messages, and so should be handed the
/// messages that arrived while the account was offline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offline {
    /// The UI, `listen` and the line mode: deliver the queue.
    Take,
    /// One-shot commands: leave the queue for a client that shows it.
    Leave,
}

impl Offline {
    fn options(self) -> RegisterOptions {
        RegisterOptions {
            take_offline: self == Offline::Take,
            ..RegisterOptions::default()
        }
    }
}

/// A connection registered as its target's name.
pub struct Session {
    pub client: Client,
    pub events: Events,
    pub registered: Registered,
    /// The password asked for at the terminal, if the name turned out to
    /// be an account and none was given: whoever reconnects needs it.
    pub prompted: Option<String>,
}

/// Connects, says HELLO and registers as `target.name`.
pub async fn open(target: &Target, offline: Offline) -> Result<(Client, Events), Failure> {
    let opts = ConnectOptions {
        client_name: concat!("chinwag-cli/", env!("CARGO_PKG_VERSION")).to_owned(),
        ..ConnectOptions::default()
    };
    let session = login(target, opts, offline).await?;
    Ok((session.client, session.events))
}

/// Connects and registers; at a terminal, asks for the password when the
/// name is an account and none was given.
pub async fn login(
    target: &Target,
    opts: ConnectOptions,
    offline: Offline,
) -> Result<Session, Failure> {
    let (client, events) = connect(target, opts).await.map_err(|e| match e {
        ClientError::Server { .. } => Failure::from(e),
        other => Failure::connection(format!("could not connect to {}: {other}", target.server)),
    })?;
    let password = target.password.as_deref().filter(|p| !p.is_empty());
    let options = offline.options();
    let (registered, prompted) = match client.register_with(&target.name, password, &options).await
    {
        Ok(registered) => (registered, None),
        // The name is an account and no password was given: at a terminal,
        // ask for it.
        Err(ClientError::Server {
            code: ErrorCode::AccountRequired,
            ..
        }) if password.is_none() && std::io::stdin().is_terminal() => {
            let password = prompt(&format!("password for {}: ", target.name))?;
            let registered = client
                .register_with(&target.name, Some(&password), &options)
                .await?;
            (registered, Some(password))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Session {
        client,
        events,
        registered,
        prompted,
    })
}

/// Connects and registers without asking anything (for reconnects, when
/// the terminal belongs to the UI).
pub async fn register(
    target: &Target,
    opts: ConnectOptions,
    offline: Offline,
) -> Result<(Client, Events, Registered), ClientError> {
    let (client, events) = connect(target, opts).await?;
    let password = target.password.as_deref().filter(|p| !p.is_empty());
    let registered = client
        .register_with(&target.name, password, &offline.options())
        .await?;
    Ok((client, events, registered))
}

/// Connects (over TLS when asked) and says HELLO.
async fn connect(target: &Target, opts: ConnectOptions) -> Result<(Client, Events), ClientError> {
    match &target.tls {
        Some(tls) => Client::connect_tls(&target.server, tls, opts).await,
        None => Client::connect(target.server.as_str(), opts).await,
    }
}

/// Reads a password from the terminal without echoing it.
pub fn prompt(question: &str) -> Result<String, Failure> {
    rpassword::prompt_password(question).map_err(|e| Failure {
        exit: crate::exit::Exit::Usage,
        message: format!("cannot read a password from the terminal: {e}"),
    })
}

/// LOGOUT, without waiting long and without caring whether it worked: the
/// program is about to exit either way.
pub async fn logout(client: &Client) {
    let _ = tokio::time::timeout(LOGOUT_TIMEOUT, client.logout()).await;
}

/// Prints one line on stdout and flushes it, so that a pipe sees each line
/// as it happens. An error means stdout is gone (a closed pipe).
pub fn print_line(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}
