//! `chinwag`: the command-line client.
//!
//! - `main.rs`: the clap types and the dispatch.
//! - [`oneshot`]: commands that connect, do one thing and log out.
//! - [`listen`]: stay connected and print events.
//! - [`line`]: the interactive line mode (no command given, no terminal).
//! - [`tui`]: the full-screen UI (no command given, on a terminal).
//! - [`render`]: how events, users and errors look, for humans and as JSON.
//! - [`rooms`]: the room commands, and how rooms look.
//! - [`session`]: connecting and registering.
//! - [`exit`]: the exit codes.

mod exit;
mod line;
mod listen;
mod oneshot;
mod render;
mod rooms;
mod session;
mod tui;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};

use crate::exit::{Exit, Failure};
use crate::oneshot::AdminAction;
use crate::render::{Clock, Format};
use crate::session::Target;

const ABOUT: &str = "Talk on a chinwag chat server.";

const LONG_ABOUT: &str = "\
Talk on a chinwag chat server.

Every command connects to the server, registers as --name, does its work and
logs out. Without a command, on a terminal, chinwag opens a full-screen chat:
conversations on the left, messages in the middle, who is online on the
right; type to talk, /help lists the commands and keys, and a lost
connection is re-established by itself. With an account (--password, or the
prompt shown before the screen is taken over), direct messages sent while
you were away arrive as unread, /history and PageUp load earlier messages
from the server, and /passwd changes the password without showing it.
Without a command and with stdin or stdout not a terminal, chinwag reads
lines from stdin instead: a line is sent to everyone, a line starting with /
is a command (/help lists them, /history and /passwd among them); at the end
of input it logs out and exits.";

const EXAMPLES: &str = "\
Examples:
  chinwag --name alice                         full-screen chat (/help for commands and keys)
  chinwag --name alice --password PW           the same, logged in to the account alice
  chinwag --name alice send bob see you at 5   send a direct message
  chinwag --name alice broadcast lunch time    send a message to everyone
  chinwag --name alice users --json            who is online, as JSON
  chinwag --name alice listen --json | jq .    follow messages from a script
  chinwag --name bob listen --join '#general'  join a room and follow it
  chinwag --name alice rooms                   list the rooms
  echo hello | chinwag --name alice            send piped lines, then log out
  chinwag --name alice --password PW send bob hi    log in to (or create) the account alice
  chinwag --name alice --password PW history bob --limit 50
  chinwag --name alice --password PW passwd          change alice's password (asks for the new one)
  CHINWAG_ADMIN_PASSWORD=... chinwag --name root admin mute bob --for 10m --reason spam
  chinwag --name carol --password PW admin ban bob --for 1d --reason spam   (carol holds the admin role)

Environment:
  CHINWAG_SERVER, CHINWAG_NAME, CHINWAG_PASSWORD, CHINWAG_ADMIN_PASSWORD and
  CHINWAG_CA_FILE stand in for the options of the same name.";

#[derive(Debug, Parser)]
#[command(
    name = "chinwag",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = exit::HELP,
    after_long_help = format!("{EXAMPLES}\n\n{}", exit::HELP),
)]
struct Cli {
    /// The server's address, HOST:PORT.
    #[arg(
        long,
        short,
        value_name = "ADDR",
        env = "CHINWAG_SERVER",
        default_value = "127.0.0.1:7070",
        global = true
    )]
    server: String,

    /// The name to register as: 1 to 32 letters, digits, '_' or '-',
    /// starting with a letter. Required.
    #[arg(long, short, value_name = "NAME", env = "CHINWAG_NAME", global = true)]
    name: Option<String>,

    /// The password of an account: logs in to it, or creates it if the name
    /// is free. Without it you join as a guest (at a terminal you are asked
    /// for it if the name turns out to be an account).
    #[arg(
        long,
        value_name = "PW",
        env = "CHINWAG_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    password: Option<String>,

    /// A file whose first line is the account's password: one file per
    /// user, so that several users in one shell each keep their own, and
    /// the password stays out of the shell's history and the process list.
    #[arg(
        long,
        value_name = "FILE",
        env = "CHINWAG_PASSWORD_FILE",
        global = true,
        conflicts_with = "password"
    )]
    password_file: Option<std::path::PathBuf>,

    /// Show times in UTC rather than local time.
    #[arg(long, global = true)]
    utc: bool,

    /// In the full-screen UI, do not ring the terminal bell when a message
    /// names you or a direct message comes.
    #[arg(long)]
    no_bell: bool,

    /// Connect over TLS, trusting the system's root certificates (or
    /// --ca-file).
    #[arg(long, env = "CHINWAG_TLS", global = true)]
    tls: bool,

    /// Connect over TLS, trusting the certificate authorities in this PEM
    /// file (for `chinwagd cert`, its ca.pem). Implies --tls.
    #[arg(long, value_name = "FILE", env = "CHINWAG_CA_FILE", global = true)]
    ca_file: Option<std::path::PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send a direct message to one user.
    #[command(after_help = "Example: chinwag --name alice send bob see you at 5")]
    Send {
        /// Who gets the message.
        to: String,
        /// The message; several words are joined with spaces.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        text: Vec<String>,
    },
    /// Send a message to everyone online.
    #[command(after_help = "Example: chinwag --name alice broadcast lunch time")]
    Broadcast {
        /// The message; several words are joined with spaces.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        text: Vec<String>,
    },
    /// List the users online.
    ///
    /// Shows each user's name, role and mute; administrators also see the
    /// address and how long each user has been connected.
    Users {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Have the server echo a text back, and show the round-trip time.
    Echo {
        /// The text; several words are joined with spaces.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        text: Vec<String>,
    },
    /// Stay connected and print every message and notice, one per line.
    ///
    /// Exits 0 when the server shuts down or on Ctrl-C (after logging out),
    /// 4 when kicked, 3 when the connection is lost otherwise.
    Listen {
        /// Print one JSON object per line:
        /// {"type":"message"|"notice"|"room_notice"|"error", ...}; a room
        /// message has a "room" field.
        #[arg(long)]
        json: bool,
        /// Join this room first (repeat for more); a guest's membership
        /// lasts as long as `listen` runs.
        #[arg(long = "join", value_name = "ROOM")]
        rooms: Vec<String>,
    },
    /// Change the password of the account --name (--password is the
    /// current one).
    Passwd {
        /// The new password; asked for at a terminal when omitted (safer:
        /// arguments are visible to other users of the machine).
        new: Option<String>,
    },
    /// Show stored messages of a conversation, oldest line first.
    #[command(after_help = "Example: chinwag --name alice --password PW history bob --limit 50")]
    History {
        /// A user's name for your direct messages with them (accounts
        /// only), a room you are in (`#general`; from an id you saw with
        /// --after, what you missed), or `all` for the broadcasts.
        #[arg(value_name = "NAME|#ROOM|all")]
        with: String,
        /// Only messages with an id below this (to scroll back).
        #[arg(long, value_name = "ID")]
        before: Option<u64>,
        /// Only messages with an id above this (to read forward).
        #[arg(long, value_name = "ID")]
        after: Option<u64>,
        /// How many messages, at most 500.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=500))]
        limit: u16,
        /// Print one JSON object per line, like `listen --json`.
        #[arg(long)]
        json: bool,
    },
    /// Administer the server: register, become administrator (with the
    /// admin password, or as an account holding the role), then act.
    Admin(AdminArgs),
    #[command(flatten)]
    Rooms(rooms::RoomCommand),
}

#[derive(Debug, clap::Args)]
struct AdminArgs {
    /// The server's administrator password; not needed by an account that
    /// holds the administrator role.
    #[arg(
        long,
        value_name = "PW",
        env = "CHINWAG_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    admin_password: Option<String>,

    #[command(subcommand)]
    action: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Disconnect a user.
    Kick {
        /// Who to kick.
        #[arg(value_name = "NAME")]
        user: String,
        /// Why; shown to the user.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Stop a user from sending messages.
    #[command(
        after_help = "Example: chinwag --name root admin mute bob --for 1h30m --reason flooding"
    )]
    Mute {
        /// Who to mute.
        #[arg(value_name = "NAME")]
        user: String,
        /// How long, like 30s, 10m or 1h30m; without it, until lifted.
        #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
        duration: Option<Duration>,
        /// Why; shown to the user.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Lift a mute.
    Unmute {
        /// Who may talk again.
        #[arg(value_name = "NAME")]
        user: String,
    },
    /// Shut the server down; everyone is told, then disconnected.
    Shutdown {
        /// Why; shown to everyone.
        #[arg(long, default_value = "")]
        reason: String,
        /// Stop every node of the cluster, not only the one connected to
        #[arg(long)]
        cluster: bool,
    },
    /// Keep a user name or an IP address out, and disconnect it.
    #[command(after_help = "Example: chinwag --name root admin ban bob --for 1d --reason spam")]
    Ban {
        /// A user name or an IP address.
        #[arg(value_name = "NAME|ADDR")]
        target: String,
        /// How long, like 30m or 7d; without it, for good.
        #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
        duration: Option<Duration>,
        /// Why; shown to the user.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Lift a ban.
    Unban {
        /// The banned user name or IP address.
        #[arg(value_name = "NAME|ADDR")]
        target: String,
    },
    /// Give an account the administrator role.
    Grant {
        #[arg(value_name = "NAME")]
        user: String,
    },
    /// Take the administrator role from an account.
    Revoke {
        #[arg(value_name = "NAME")]
        user: String,
    },
    /// Show the audit log of administrator actions, newest first.
    Audit {
        /// Only entries with an id below this (the next page).
        #[arg(long, value_name = "ID")]
        before: Option<u64>,
        /// How many entries, at most 500.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=500))]
        limit: u16,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// The password in `path`: its first line, without the line ending.
fn read_password_file(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the password file {}: {e}", path.display()))?;
    let password = text.lines().next().unwrap_or("");
    if password.is_empty() {
        return Err(format!(
            "the password file {} is empty; its first line is the password",
            path.display()
        ));
    }
    Ok(password.to_owned())
}

fn main() {
    let cli = Cli::parse();
    let Some(name) = cli.name.clone() else {
        Cli::command()
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "--name NAME (or CHINWAG_NAME) is required",
            )
            .exit();
    };
    let password = match (&cli.password, &cli.password_file) {
        (Some(password), _) => Some(password.clone()),
        (None, Some(path)) => match read_password_file(path) {
            Ok(password) => Some(password),
            Err(message) => Cli::command()
                .error(clap::error::ErrorKind::ValueValidation, message)
                .exit(),
        },
        (None, None) => None,
    };
    let target = Target {
        server: cli.server.clone(),
        name,
        password,
        tls: (cli.tls || cli.ca_file.is_some()).then(|| chinwag_client::TlsOptions {
            ca_file: cli.ca_file.clone(),
            server_name: None,
        }),
    };
    let exit = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => {
            let exit = runtime.block_on(dispatch(cli, target));
            // Do not wait for blocking work still running (a stdin read, a
            // name lookup): the answer is known, and waiting could hang.
            runtime.shutdown_background();
            exit
        }
        Err(error) => Err(Failure {
            exit: Exit::Refused,
            message: format!("cannot start the runtime: {error}"),
        }),
    };
    let code = match exit {
        Ok(exit) => exit.code(),
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            failure.exit.code()
        }
    };
    let _ = std::io::stdout().flush();
    // Exit at once: the stdin reader thread of the line mode may still be
    // blocked in a read.
    std::process::exit(code);
}

async fn dispatch(cli: Cli, target: Target) -> Result<Exit, Failure> {
    let clock = if cli.utc { Clock::Utc } else { Clock::Local };
    let Some(command) = cli.command else {
        if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
            return tui::run(&target, clock, !cli.no_bell).await;
        }
        return line::run(&target, clock).await;
    };
    match command {
        Command::Send { to, text } => oneshot::send(&target, &to, &text.join(" ")).await,
        Command::Broadcast { text } => oneshot::broadcast(&target, &text.join(" ")).await,
        Command::Users { json } => oneshot::users(&target, json).await,
        Command::Echo { text } => oneshot::echo(&target, &text.join(" ")).await,
        Command::Listen { json, rooms } => {
            let format = if json {
                Format::Json
            } else {
                Format::Human(clock)
            };
            listen::run(&target, format, &rooms).await
        }
        Command::Passwd { new } => {
            let new = match new {
                Some(new) => new,
                None if std::io::stdin().is_terminal() => {
                    let new = session::prompt("new password: ")?;
                    if session::prompt("new password again: ")? != new {
                        return Err(Failure {
                            exit: Exit::Usage,
                            message: "the two passwords differ".into(),
                        });
                    }
                    new
                }
                None => {
                    return Err(Failure {
                        exit: Exit::Usage,
                        message: "give the new password as an argument".into(),
                    });
                }
            };
            oneshot::passwd(&target, &new).await
        }
        Command::History {
            with,
            before,
            after,
            limit,
            json,
        } => {
            let query = chinwag_client::HistoryQuery {
                with: (with != "all").then_some(with.as_str()),
                before,
                after,
                limit,
            };
            let format = if json {
                Format::Json
            } else {
                Format::Human(clock)
            };
            oneshot::history(&target, query, format).await
        }
        Command::Rooms(command) => rooms::run(&target, command).await,
        Command::Admin(AdminArgs {
            admin_password,
            action,
        }) => {
            let action = match action {
                AdminCommand::Kick { user, reason } => AdminAction::Kick { name: user, reason },
                AdminCommand::Mute {
                    user,
                    duration,
                    reason,
                } => AdminAction::Mute {
                    name: user,
                    duration,
                    reason,
                },
                AdminCommand::Unmute { user } => AdminAction::Unmute { name: user },
                AdminCommand::Shutdown { reason, cluster } => {
                    AdminAction::Shutdown { reason, cluster }
                }
                AdminCommand::Ban {
                    target,
                    duration,
                    reason,
                } => AdminAction::Ban {
                    target,
                    duration,
                    reason,
                },
                AdminCommand::Unban { target } => AdminAction::Unban { target },
                AdminCommand::Grant { user } => AdminAction::Grant { name: user },
                AdminCommand::Revoke { user } => AdminAction::Revoke { name: user },
                AdminCommand::Audit {
                    before,
                    limit,
                    json,
                } => AdminAction::Audit {
                    before,
                    limit,
                    json,
                },
            };
            oneshot::admin(&target, admin_password.as_deref(), action).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn words_are_collected_even_with_dashes() {
        let cli = Cli::try_parse_from(["chinwag", "--name", "a", "send", "bob", "-5", "degrees"])
            .unwrap();
        match cli.command {
            Some(Command::Send { to, text }) => assert_eq!(
                (to.as_str(), text.join(" ").as_str()),
                ("bob", "-5 degrees")
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_target_user_does_not_clobber_the_global_name() {
        let cli = Cli::try_parse_from([
            "chinwag",
            "--name",
            "root",
            "admin",
            "--admin-password",
            "pw",
            "kick",
            "bob",
        ])
        .unwrap();
        assert_eq!(cli.name.as_deref(), Some("root"));
        match cli.command {
            Some(Command::Admin(AdminArgs {
                action: AdminCommand::Kick { user, .. },
                ..
            })) => assert_eq!(user, "bob"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mute_takes_a_humantime_duration() {
        let cli = Cli::try_parse_from([
            "chinwag",
            "-n",
            "root",
            "admin",
            "--admin-password",
            "pw",
            "mute",
            "bob",
            "--for",
            "1h30m",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Admin(AdminArgs {
                action: AdminCommand::Mute { duration, .. },
                ..
            })) => assert_eq!(duration, Some(Duration::from_secs(5400))),
            other => panic!("{other:?}"),
        }
    }
}
