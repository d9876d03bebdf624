//! The one-shot commands: connect, register, do one thing, log out.

use std::future::Future;
use std::time::Duration;

use chinwag_client::{Client, DeliveryStatus, Timestamp};

use crate::exit::{Exit, Failure};
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
    },
}

/// Runs `action` on a fresh, registered connection, then logs out.
pub async fn with_session<F, Fut>(target: &Target, action: F) -> Result<Exit, Failure>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    // Events are not needed: dropping them discards them.
    let (client, _) = session::open(target).await?;
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

pub async fn admin(target: &Target, password: &str, action: AdminAction) -> Result<Exit, Failure> {
    with_session(target, |client| async move {
        client.admin(password).await?;
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
            AdminAction::Shutdown { reason } => {
                client.shutdown(&reason).await?;
                "the server is shutting down".to_owned()
            }
        };
        print(&done)
    })
    .await
}
