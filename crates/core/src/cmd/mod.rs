//! The router: one handler per request type, and the preconditions that
//! guard them.
//!
//! Each handler lives in its own file and has the shape
//! `fn apply(req, &mut Ctx) -> Outcome`: it reads and writes shared state,
//! queues frames for other connections, and returns the one frame that
//! answers the request ([`Outcome::Ready`]), or, when it needs the store or
//! a password hash, the work to wait for and what to do once it is done
//! ([`Outcome::Later`], built with [`later`]). The session runs pending work
//! concurrently but applies the results and writes the replies in request
//! order, attaching the request id in one place.
//! Preconditions (handshake done, registered, `src` is really the sender,
//! not muted, administrator) are in one table, [`need`], enforced once in
//! [`dispatch`] before any handler runs.

mod admin;
mod audit;
mod ban;
mod bantalk;
mod broadcast;
mod getalluser;
mod grant;
mod hello;
mod history;
mod ignore;
mod ignores;
mod kickout;
mod logout;
mod mark_read;
mod mark_read_at;
pub mod metadata;
mod nick;
mod passwd;
mod ping;
mod profile;
mod read_markers;
mod redact;
mod reflect;
mod register;
mod room;
mod shutdown;
pub mod speech;
mod transfer;
mod unban;
mod unmute;
mod user_mode;
mod whois;
mod whowas;

pub use crate::error::{CmdError, Reply, no_such_user};

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use chinwag_proto::request::SendOptions;
use chinwag_proto::server::{Message, MessageId, MessageKind, MuteState, Timestamp};
use chinwag_proto::{ByteString, ErrorCode, Request, ServerFrame};
use futures::future::BoxFuture;

use crate::session::{Conn, Leave, Phase};
use crate::state::{Peer, Sender, State};

/// The clock, read once per batch of requests and passed in, so that
/// handlers are deterministic for a given `now`.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub wall: Timestamp,
    pub mono: Instant,
}

impl Now {
    pub fn current() -> Now {
        Now {
            wall: Timestamp::now(),
            mono: Instant::now(),
        }
    }
}

/// What a handler works with.
pub struct Ctx<'a> {
    pub state: &'a Arc<State>,
    pub conn: &'a mut Conn,
    pub now: Now,
}

impl Ctx<'_> {
    /// Who is sending this request: the user and this session.
    pub fn sender(&self, me: &Peer) -> Sender {
        Sender {
            user: me.name.key(),
            conn: self.conn.id,
        }
    }

    /// The registered peer. Handlers that need [`Need::Registered`] or more
    /// can rely on it; the others must not call this.
    fn me(&self) -> Result<&Arc<Peer>, CmdError> {
        self.conn
            .peer
            .as_ref()
            .ok_or_else(|| CmdError::new(ErrorCode::NotRegistered, "register first"))
    }
}

/// What to do once a request's pending work is done; runs in the session,
/// in request order, with the connection's state at hand.
pub type Completion = Box<dyn FnOnce(&mut Ctx<'_>) -> Outcome + Send>;

/// Work a request waits for (the store, a password hash) before it can be
/// answered.
pub struct Later {
    pub work: BoxFuture<'static, Completion>,
    /// The session reads no further request until this one is answered.
    /// Set for requests whose outcome the next ones depend on (REGISTER,
    /// password checks and their throttle); left unset for sends, so that
    /// pipelined messages share a commit.
    pub exclusive: bool,
}

/// How a handler answers.
pub enum Outcome {
    Ready(Reply),
    Later(Later),
}

impl From<Reply> for Outcome {
    fn from(reply: Reply) -> Outcome {
        Outcome::Ready(reply)
    }
}

impl From<CmdError> for Outcome {
    fn from(error: CmdError) -> Outcome {
        Outcome::Ready(Err(error))
    }
}

/// An answer that waits for `work`, then runs `then` in the session.
pub fn later<T, W, F>(exclusive: bool, work: W, then: F) -> Outcome
where
    T: Send + 'static,
    W: Future<Output = T> + Send + 'static,
    F: FnOnce(T, &mut Ctx<'_>) -> Outcome + Send + 'static,
{
    Outcome::Later(Later {
        work: Box::pin(async move {
            let value = work.await;
            Box::new(move |ctx: &mut Ctx<'_>| then(value, ctx)) as Completion
        }),
        exclusive,
    })
}

/// What a request needs before its handler may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    /// Only HELLO itself.
    Nothing,
    /// HELLO was answered.
    Handshake,
    /// REGISTER succeeded (and `src`, if given, is the registered name).
    /// Whether a mute lets the request through is not a need of its own:
    /// it depends on what the request shows others ([`speech`]).
    Registered,
    /// Registered as an administrator.
    Admin,
}

/// The precondition table.
pub fn need(req: &Request) -> Need {
    match req {
        Request::Hello(_) => Need::Nothing,
        Request::Register(_) | Request::Ping | Request::Logout(_) => Need::Handshake,
        Request::Reflect(_)
        | Request::GetAllUser(_)
        | Request::Admin(_)
        | Request::Passwd(_)
        | Request::History(_)
        | Request::MarkRead(_)
        | Request::MarkReadAt(_)
        | Request::MetadataSet(_)
        | Request::MetadataGet(_)
        | Request::MetadataSub(_)
        | Request::ReadMarkers(_)
        | Request::Ignore(_)
        | Request::Ignores(_) => Need::Registered,
        // Before REGISTER, kept for it (the profile to come online with).
        Request::Profile(_) => Need::Handshake,
        Request::Nick(_)
        | Request::UserMode(_)
        | Request::Whois(_)
        | Request::Whowas(_)
        | Request::Redact(_) => Need::Registered,
        Request::Transfer(_) | Request::Broadcast(_) => Need::Registered,
        Request::Kickout(_)
        | Request::Bantalk(_)
        | Request::Unmute(_)
        | Request::Shutdown(_)
        | Request::Ban(_)
        | Request::Unban(_)
        | Request::Grant(_)
        | Request::Revoke(_)
        | Request::Audit(_) => Need::Admin,
        Request::Room(r) => room::need(r),
    }
}

/// The `src` field of a request that has one.
fn src(req: &Request) -> Option<&str> {
    Some(match req {
        Request::Hello(_) | Request::Register(_) | Request::Ping => return None,
        Request::Reflect(r) => &r.src,
        Request::Transfer(r) => &r.src,
        Request::Broadcast(r) => &r.src,
        Request::GetAllUser(r) => &r.src,
        Request::Logout(r) => &r.src,
        Request::Admin(r) => &r.src,
        Request::Kickout(r) => &r.src,
        Request::Bantalk(r) => &r.src,
        Request::Unmute(r) => &r.src,
        Request::Shutdown(r) => &r.src,
        Request::Passwd(r) => &r.src,
        Request::History(r) => &r.src,
        Request::Ban(r) => &r.src,
        Request::Unban(r) | Request::Grant(r) | Request::Revoke(r) => &r.src,
        Request::Audit(r) => &r.src,
        Request::MarkRead(r) => &r.src,
        Request::MarkReadAt(r) => &r.src,
        Request::MetadataSet(r) => &r.src,
        Request::MetadataGet(r) => &r.src,
        Request::MetadataSub(r) => &r.src,
        Request::ReadMarkers(r) | Request::Ignores(r) => &r.src,
        Request::Ignore(r) => &r.src,
        Request::Profile(r) => &r.src,
        Request::Nick(r) | Request::Whois(r) => &r.src,
        Request::UserMode(r) => &r.src,
        Request::Whowas(r) => &r.src,
        Request::Redact(r) => &r.src,
        Request::Room(r) => r.src(),
    })
}

/// Checks the preconditions, then runs the handler.
pub fn dispatch(ctx: &mut Ctx<'_>, req: Request) -> Outcome {
    if let Err(error) = check(ctx, &req) {
        return error.into();
    }
    match req {
        Request::Hello(r) => hello::apply(r, ctx).into(),
        Request::Register(r) => register::apply(r, ctx),
        Request::Reflect(r) => reflect::apply(r, ctx).into(),
        Request::Transfer(r) => transfer::apply(r, ctx),
        Request::Broadcast(r) => broadcast::apply(r, ctx),
        Request::GetAllUser(r) => getalluser::apply(r, ctx).into(),
        Request::Logout(r) => logout::apply(r, ctx).into(),
        Request::Admin(r) => admin::apply(r, ctx),
        Request::Kickout(r) => kickout::apply(r, ctx),
        Request::Bantalk(r) => bantalk::apply(r, ctx),
        Request::Unmute(r) => unmute::apply(r, ctx),
        Request::Shutdown(r) => shutdown::apply(r, ctx),
        Request::Ping => ping::apply(ctx).into(),
        Request::Passwd(r) => passwd::apply(r, ctx),
        Request::History(r) => history::apply(r, ctx),
        Request::Ban(r) => ban::apply(r, ctx),
        Request::Unban(r) => unban::apply(r, ctx),
        Request::Grant(r) => grant::apply(r, true, ctx),
        Request::Revoke(r) => grant::apply(r, false, ctx),
        Request::Audit(r) => audit::apply(r, ctx),
        Request::MarkRead(r) => mark_read::apply(r, ctx),
        Request::MarkReadAt(r) => mark_read_at::apply(r, ctx),
        Request::MetadataSet(r) => metadata::set(r, ctx),
        Request::MetadataGet(r) => metadata::get(r, ctx).into(),
        Request::MetadataSub(r) => metadata::sub(r, ctx).into(),
        Request::ReadMarkers(r) => read_markers::apply(r, ctx),
        Request::Ignore(r) => ignore::apply(r, ctx),
        Request::Ignores(r) => ignores::apply(r, ctx),
        Request::Profile(r) => profile::apply(r, ctx).into(),
        Request::Nick(r) => nick::apply(r, ctx),
        Request::UserMode(r) => user_mode::apply(r, ctx).into(),
        Request::Whois(r) => whois::apply(r, ctx).into(),
        Request::Whowas(r) => whowas::apply(r, ctx).into(),
        Request::Redact(r) => redact::apply(r, ctx),
        Request::Room(r) => room::dispatch(r, ctx),
    }
}

fn check(ctx: &mut Ctx<'_>, req: &Request) -> Result<(), CmdError> {
    let need = need(req);
    if ctx.conn.phase == Phase::AwaitHello && need != Need::Nothing {
        ctx.conn.leave = Some(Leave::Protocol("no HELLO"));
        return Err(CmdError::new(
            ErrorCode::HandshakeRequired,
            "the first frame must be HELLO",
        ));
    }
    if let Some(src) = src(req)
        && !src.is_empty()
    {
        match &ctx.conn.peer {
            Some(me) if me.name.is(src) => {}
            Some(me) => {
                return Err(CmdError::new(
                    ErrorCode::SpoofedSource,
                    format!("src is {src:?} but you are registered as {}", me.name),
                ));
            }
            None => {
                return Err(CmdError::new(
                    ErrorCode::SpoofedSource,
                    format!("src is {src:?} but you have not registered; leave it empty"),
                ));
            }
        }
    }
    if need < Need::Registered {
        return Ok(());
    }
    let me = ctx.me()?;
    if need == Need::Admin && !me.is_admin() {
        return Err(CmdError::new(
            ErrorCode::Forbidden,
            "only administrators may do that (see ADMIN)",
        ));
    }
    check_speech(ctx, me, speech::speech(req))
}

/// The mute rule, one for every request: a muted user puts no text in
/// front of others (see [`speech`]).
fn check_speech(ctx: &Ctx<'_>, me: &Peer, said: speech::Speech<'_>) -> Result<(), CmdError> {
    use speech::Speech;
    let now = ctx.now.wall;
    match said {
        Speech::Silent => Ok(()),
        Speech::Anywhere(_) | Speech::InRoom { .. } => {
            muted(me.muted(now), "", now)?;
            if let Speech::InRoom { room, .. } = said
                && let Some(room) = ctx.state.rooms.get(room)
            {
                // A non-member of a room that takes messages from members
                // only is told it is not one by the handler; anyone else
                // is held back by a mute, the moderation or a mute mask.
                let state = room.read();
                let key = me.name.key();
                if state.member(&key).is_some() || !state.mode.no_external() {
                    let who = || crate::state::rooms::Subject::of(me);
                    silenced(state.silenced(&key, who, now), room.name.as_str(), now)?;
                }
            }
            Ok(())
        }
        // A muted user may join existing rooms to read, not name new ones.
        Speech::NewRoom(room) if ctx.state.rooms.get(room).is_none() => {
            muted(me.muted(now), "", now).map_err(|e| {
                CmdError::new(
                    e.code,
                    format!("{}; a new room's name is text others read", e.message),
                )
            })
        }
        Speech::NewRoom(_) => Ok(()),
    }
}

/// The error for what holds a user back in `room`, if anything.
fn silenced(
    why: Option<crate::state::rooms::Silenced>,
    room: &str,
    now: Timestamp,
) -> Result<(), CmdError> {
    use crate::state::rooms::Silenced;
    match why {
        None => Ok(()),
        Some(Silenced::Muted(state)) => muted(state, room, now),
        Some(Silenced::Moderated) => Err(CmdError::new(
            ErrorCode::Muted,
            format!("{room} is moderated: only its operators and voiced members may talk"),
        )),
        Some(Silenced::Masked) => Err(CmdError::new(
            ErrorCode::Muted,
            format!("you are muted in {room} by a mask until an operator lifts it"),
        )),
    }
}

/// The error for a mute in force: server-wide (`room` empty) or in `room`.
fn muted(state: MuteState, room: &str, now: Timestamp) -> Result<(), CmdError> {
    let place = if room.is_empty() {
        String::new()
    } else {
        format!(" in {room}")
    };
    let lifter = if room.is_empty() {
        "an administrator"
    } else {
        "an operator"
    };
    match state {
        MuteState::NotMuted => Ok(()),
        MuteState::UntilLifted => Err(CmdError::new(
            ErrorCode::Muted,
            format!("you are muted{place} until {lifter} lifts it"),
        )),
        MuteState::Until(end) => Err(CmdError::new(
            ErrorCode::Muted,
            format!(
                "you are muted{place} for another {}",
                format_remaining(end, now)
            ),
        )),
    }
}

/// "59s", "4m 59s": time left until `end`, rounded up to whole seconds.
pub fn format_remaining(end: Timestamp, now: Timestamp) -> String {
    let secs = end.0.saturating_sub(now.0).div_ceil(1000);
    humantime::format_duration(std::time::Duration::from_secs(secs)).to_string()
}

/// Checks a message text against the server's limit.
fn check_text(text: &str, ctx: &Ctx<'_>) -> Result<(), CmdError> {
    chinwag_proto::text::validate(text, ctx.state.config.limits.max_content as usize)
        .map_err(|e| CmdError::new(ErrorCode::InvalidContent, e.to_string()))
}

/// Checks what a message request (TRANSFER, BROADCAST, ROOM_SEND) sends:
/// a text, or an action (`/me`) in IRC's CTCP form; its client tags, if
/// any (protocol.md 2.5). A message of tags alone (no text) is allowed:
/// it is relayed, not stored (see [`tags_only`]).
fn check_message(text: &str, options: &SendOptions, ctx: &Ctx<'_>) -> Result<(), CmdError> {
    let invalid =
        |e: chinwag_proto::TextError| CmdError::new(ErrorCode::InvalidContent, e.to_string());
    if !options.tags.is_empty() {
        chinwag_proto::text::validate_tags(&options.tags).map_err(invalid)?;
        if text.is_empty() {
            return Ok(());
        }
    }
    chinwag_proto::text::validate_message(text, ctx.state.config.limits.max_content as usize)
        .map_err(invalid)
}

/// Whether a (checked) message is tags alone: relayed to whoever is
/// online, never stored, with an ephemeral id
/// ([`chinwag_proto::MessageId::is_ephemeral`]).
fn tags_only(text: &str) -> bool {
    text.is_empty()
}

/// The MESSAGE a message request makes.
fn message_frame(
    id: MessageId,
    ts: Timestamp,
    kind: MessageKind,
    from: &str,
    to: &str,
    text: ByteString,
    options: &SendOptions,
) -> ServerFrame {
    ServerFrame::Message(Message {
        id,
        ts,
        kind,
        from: from.into(),
        to: to.into(),
        text,
        notice: options.notice,
        tags: options.tags.clone(),
    })
}

/// Checks an optional reason (kick, mute, shutdown): empty, or valid text.
/// Reasons are shown to other users, so they follow the same rules.
fn check_reason(reason: &str, ctx: &Ctx<'_>) -> Result<(), CmdError> {
    if reason.is_empty() {
        Ok(())
    } else {
        check_text(reason, ctx)
    }
}

/// Most entries in one HISTORY_PAGE or AUDIT_PAGE; a larger `limit` is
/// cut to this.
pub const MAX_PAGE: u16 = 500;

/// A page size from a request: 1 to [`MAX_PAGE`].
fn page_limit(limit: u16) -> Result<u32, CmdError> {
    if limit == 0 {
        return Err(CmdError::new(
            ErrorCode::InvalidArgument,
            "limit must be at least 1",
        ));
    }
    Ok(u32::from(limit.min(MAX_PAGE)))
}

/// The end of a mute or ban of `secs` seconds from `now` (0: for good).
fn ends_after(secs: u32, now: Timestamp) -> MuteState {
    match secs {
        0 => MuteState::UntilLifted,
        secs => MuteState::Until(Timestamp(now.0.saturating_add(u64::from(secs) * 1000))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_time_rounds_up() {
        assert_eq!(format_remaining(Timestamp(60_000), Timestamp(1_000)), "59s");
        assert_eq!(format_remaining(Timestamp(1_500), Timestamp(1_000)), "1s");
        assert_eq!(
            format_remaining(Timestamp(300_000), Timestamp(1_000)),
            "4m 59s"
        );
    }
}
