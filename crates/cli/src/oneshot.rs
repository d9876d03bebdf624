//! The one-shot commands: connect, register, do one thing, log out.

use std::future::Future;
use std::time::Duration;

use chinwag_client::{Client, DeliveryStatus, HistoryQuery, Timestamp};

use crate::exit::{Exit, Failure};
use crate::line::Moderation;
use crate::render;
use crate::session::{self, Target, print_line};

/// What `chinwag admin` does once it is an administrator.
#[derive(Clone, Debug)]
pub enum AdminAction {
    Kick {
        name: String,
        reason: String,
    },
    Mute {
        name: String,
        duration: Option<Duration>,
        reason: String,
    },
    Unmute {
        name: String,
    },
    Shutdown {
        reason: String,
        cluster: bool,
    },
    Ban {
        target: String,
        duration: Option<Duration>,
        reason: String,
    },
    Unban {
        target: String,
    },
    Grant {
        name: String,
    },
    Revoke {
        name: String,
    },
    Audit {
        before: Option<u64>,
        limit: u16,
        json: bool,
    },
}

/// Runs `action` on a fresh, registered connection, then logs out.
pub async fn with_session<F, Fut>(target: &Target, action: F) -> Result<Exit, Failure>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    // Events are not needed: dropping them discards them.
    let (client, _) = session::open(target, session::Offline::Leave).await?;
    let result = action(client.clone()).await;
    session::logout(&client).await;
    result.map(|()| Exit::Success)
}

pub fn print(line: &str) -> Result<(), Failure> {
    print_line(line).map_err(|e| Failure::connection(format!("cannot write to stdout: {e}")))
}

pub async fn send(target: &Target, to: &str, text: &str) -> Result<Exit, Failure> {
    with_session(target, |client| async move {
        let sent = client.send(to, text).await?;
        print(&match sent.status {
            DeliveryStatus::Delivered => format!("delivered to {to}"),
            DeliveryStatus::Queued => format!("queued for {to} (offline)"),
        })
    })
    .await
}

pub async fn broadcast(target: &Target, text: &str) -> Result<Exit, Failure> {
    with_session(target, |client| async move {
        let sent = client.broadcast(text).await?;
        print(&format!("broadcast to {} connection(s)", sent.recipients))
    })
    .await
}

pub async fn users(target: &Target, json: bool) -> Result<Exit, Failure> {
    with_session(target, |client| async move {
        let users = client.users().await?;
        if json {
            print(&render::users_json(&users).to_string())
        } else {
            print(render::users_table(&users, Timestamp::now()).trim_end())
        }
    })
    .await
}

pub async fn echo(target: &Target, text: &str) -> Result<Exit, Failure> {
    with_session(target, |client| async move {
        let echo = client.echo(text).await?;
        print(&render::sanitize(&echo.content))?;
        print(&format!("rtt {:.3} ms", echo.rtt.as_secs_f64() * 1e3))
    })
    .await
}

/// `chinwag passwd`: changes the account's password (`--password` is the
/// current one).
pub async fn passwd(target: &Target, new: &str) -> Result<Exit, Failure> {
    let Some(old) = target.password.clone() else {
        return Err(Failure {
            exit: Exit::Usage,
            message: "give the current password with --password (or CHINWAG_PASSWORD)".into(),
        });
    };
    with_session(target, |client| async move {
        client.passwd(&old, new).await?;
        print("password changed")
    })
    .await
}

/// `chinwag history`: one page of a conversation, oldest line first (the
/// server sends newest first), or JSON lines.
pub async fn history(
    target: &Target,
    query: HistoryQuery<'_>,
    format: render::Format,
) -> Result<Exit, Failure> {
    with_session(target, |client| async move {
        let page = client.history(&query).await?;
        for message in page.iter().rev() {
            print(&match format {
                render::Format::Json => render::message_json(message).to_string(),
                render::Format::Human(clock) => render::message(message, clock),
            })?;
        }
        Ok(())
    })
    .await
}

pub async fn admin(
    target: &Target,
    password: Option<&str>,
    action: AdminAction,
) -> Result<Exit, Failure> {
    with_session(target, |client| async move {
        // Role holders are administrators already; others need the
        // server's admin password.
        if let Some(password) = password {
            client.admin(password).await?;
        }
        let done = match action {
            AdminAction::Kick { name, reason } => {
                client.kick(&name, &reason).await?;
                format!("kicked {name}")
            }
            AdminAction::Mute {
                name,
                duration,
                reason,
            } => {
                client.mute(&name, duration, &reason).await?;
                match duration {
                    Some(d) => format!("muted {name} for {}", render::duration(d)),
                    None => format!("muted {name} until lifted"),
                }
            }
            AdminAction::Unmute { name } => {
                client.unmute(&name).await?;
                format!("unmuted {name}")
            }
            AdminAction::Shutdown {
                reason,
                cluster: false,
            } => {
                client.shutdown(&reason).await?;
                "the server is shutting down".to_owned()
            }
            AdminAction::Shutdown {
                reason,
                cluster: true,
            } => {
                client.shutdown_cluster(&reason).await?;
                "every node of the cluster is shutting down".to_owned()
            }
            AdminAction::Ban {
                target,
                duration,
                reason,
            } => {
                Moderation::Ban {
                    target,
                    duration,
                    reason,
                }
                .execute(&client)
                .await?
            }
            AdminAction::Unban { target } => Moderation::Unban(target).execute(&client).await?,
            AdminAction::Grant { name } => {
                client.grant(&name).await?;
                format!("{name} is now an administrator")
            }
            AdminAction::Revoke { name } => {
                client.revoke(&name).await?;
                format!("{name} is no longer an administrator")
            }
            AdminAction::Audit {
                before,
                limit,
                json,
            } => {
                let entries = client.audit(before, limit).await?;
                return if json {
                    print(&render::audit_json(&entries).to_string())
                } else {
                    print(render::audit_table(&entries, Timestamp::now()).trim_end())
                };
            }
        };
        print(&done)
    })
    .await
}
