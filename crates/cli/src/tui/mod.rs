//! The full-screen terminal UI: conversations on the left, messages in the
//! middle, who is online on the right, a status line and an input line.
//!
//! - [`app`]: the state and every change to it (no I/O; tested directly).
//! - [`conversation`]: conversation kinds, entries, unread counts.
//! - [`command`]: what a typed line means.
//! - [`input`]: the input line's editing, history and completion.
//! - [`keys`]: keys, mouse and paste.
//! - [`view`]: layout and drawing.
//! - [`text`]: widths and wrapping by terminal columns.
//! - [`net`]: the network task, with reconnects.
//! - [`terminal`]: raw mode in, terminal restored out, panic included.
//!
//! The main loop here waits on terminal input, the network task and a
//! one-second tick (for countdowns), and redraws after each.

mod app;
mod command;
mod conversation;
mod input;
mod keys;
mod net;
mod terminal;
mod text;
mod view;

#[cfg(test)]
mod tests;

use std::time::Duration;

use chinwag_client::Timestamp;
use crossterm::event::EventStream;
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};

use crate::exit::{Exit, Failure};
use crate::render::Clock;
use crate::session::{self, Target};
use app::{App, Effect};
use net::Net;
use terminal::TerminalGuard;

/// How many queued network events are applied before the next redraw.
const EVENTS_PER_FRAME: usize = 256;

pub async fn run(target: &Target, clock: Clock, bell: bool) -> Result<Exit, Failure> {
    // Connect before taking over the screen, so a wrong name or an
    // unreachable server is reported like in every other mode.
    // A password asked for here is kept for reconnects.
    let session = session::login(target, net::options(), session::Offline::Take).await?;
    let mut for_net = target.clone();
    if session.prompted.is_some() {
        for_net.password = session.prompted;
    }
    let (net, mut from_net) =
        Net::start(for_net, session.client, session.events, session.registered);
    let mut guard = TerminalGuard::enter()
        .map_err(|e| Failure::connection(format!("cannot use the terminal: {e}")))?;
    let mut app = App::new(&target.server, &target.name, clock, Timestamp::now());
    let size = guard
        .screen
        .size()
        .map_err(|e| Failure::connection(format!("cannot use the terminal: {e}")))?;
    app.resize(size.width, size.height);
    app.bell = bell;

    let mut terminal_events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut terminate = signal(SignalKind::terminate()).ok();
    let mut hangup = signal(SignalKind::hangup()).ok();
    'main: loop {
        app.now = Timestamp::now();
        if let Err(e) = guard.screen.draw(|frame| view::render(frame, &app)) {
            drop(guard);
            net.quit().await;
            return Err(Failure::connection(format!("cannot draw: {e}")));
        }
        let effects = tokio::select! {
            event = terminal_events.next() => match event {
                Some(Ok(event)) => keys::on_event(&mut app, event),
                // The terminal is gone: nobody is left to read the UI.
                Some(Err(_)) | None => vec![Effect::Quit],
            },
            event = from_net.recv() => match event {
                Some(event) => {
                    let mut effects = app.on_net(event);
                    // Apply what else is waiting before drawing again.
                    for _ in 0..EVENTS_PER_FRAME {
                        match from_net.try_recv() {
                            Ok(event) => effects.extend(app.on_net(event)),
                            Err(_) => break,
                        }
                    }
                    effects
                }
                None => vec![Effect::Quit],
            },
            _ = tick.tick() => Vec::new(),
            _ = recv(&mut terminate) => vec![Effect::Quit],
            _ = recv(&mut hangup) => vec![Effect::Quit],
        };
        // However many came at once, the bell rings once.
        let mut rang = false;
        for effect in effects {
            match effect {
                Effect::Net(job) => net.submit(job),
                Effect::Redraw => {
                    let _ = guard.screen.clear();
                }
                Effect::Quit => break 'main,
                Effect::Bell if rang => {}
                Effect::Bell => {
                    use std::io::Write;
                    rang = true;
                    let mut out = std::io::stdout();
                    let _ = out.write_all(b"\x07").and_then(|()| out.flush());
                }
            }
        }
    }
    drop(guard);
    net.quit().await;
    Ok(app.exit)
}

/// The next signal, or never when it could not be set up.
async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}
