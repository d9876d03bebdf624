//! `chinwag listen`: stay connected and print every event, one per line.

use chinwag_client::{Event, Events, NoticeKind, Timestamp};

use crate::exit::{Exit, Failure};
use crate::render::{self, Format};
use crate::session::{self, Target, print_line};

/// Why printing events stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// An administrator kicked or banned us (the notice was printed).
    Kicked,
    /// The server is shutting down (the notice was printed).
    Shutdown,
    /// The connection ended otherwise.
    Lost(Option<String>),
    /// Nobody reads stdout any more.
    StdoutClosed,
    /// The user is done: Ctrl-C, `/quit` or the end of input.
    Finished,
}

impl Ending {
    /// Whether we should still say LOGOUT before exiting.
    pub fn wants_logout(&self) -> bool {
        matches!(self, Ending::StdoutClosed | Ending::Finished)
    }

    /// The exit status for this ending.
    pub fn exit(self) -> Result<Exit, Failure> {
        match self {
            Ending::Kicked => Ok(Exit::Kicked),
            Ending::Shutdown | Ending::StdoutClosed | Ending::Finished => Ok(Exit::Success),
            Ending::Lost(reason) => Err(Failure::connection(match reason {
                Some(reason) => format!("the connection was lost: {reason}"),
                None => "the connection was lost".to_owned(),
            })),
        }
    }
}

/// Prints events until the connection ends, a kick, or a shutdown notice.
pub async fn print_events(events: &mut Events, format: Format) -> Ending {
    while let Some(event) = events.recv().await {
        if let Event::Closed { reason } = event {
            return Ending::Lost(reason);
        }
        let line = render::event(&event, format, Timestamp::now());
        if line.is_some_and(|line| print_line(&line).is_err()) {
            return Ending::StdoutClosed;
        }
        match event {
            Event::Notice(n) if matches!(n.kind, NoticeKind::Kicked | NoticeKind::Banned) => {
                return Ending::Kicked;
            }
            Event::Notice(n) if n.kind == NoticeKind::Shutdown => return Ending::Shutdown,
            _ => {}
        }
    }
    Ending::Lost(None)
}

pub async fn run(target: &Target, format: Format, rooms: &[String]) -> Result<Exit, Failure> {
    let (client, mut events) = session::open(target, session::Offline::Take).await?;
    // Joined before printing starts: the events wait in their channel
    // meanwhile (far fewer than its bound), and print in order after.
    for room in rooms {
        client.join(room, None).await?;
    }
    let ctrl_c = tokio::signal::ctrl_c();
    let ending = tokio::select! {
        ending = print_events(&mut events, format) => ending,
        _ = ctrl_c => Ending::Finished,
    };
    if ending.wants_logout() {
        // Stop reading events so that the LOGOUT reply is not stuck behind
        // them.
        drop(events);
        session::logout(&client).await;
    }
    ending.exit()
}
