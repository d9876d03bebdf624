//! JOIN: join a room, creating it (owned by the joiner) if it does not
//! exist.
//!
//! With other nodes, a room this node does not know may be being created on
//! another node at this very moment: its name is claimed first (see
//! [`crate::delivery::Delivery::claim_room`]). Of nodes creating one room
//! at once, the one whose claim wins creates it; the others wait until
//! they learn of it and join it.

use std::sync::Arc;
use std::time::Duration;

use chinwag_proto::room::Join;
use chinwag_proto::{ErrorCode, NoticeKind, RoomName, ServerFrame};

use super::{announces_presence, check_room_text, notice, room_name, tell_members};
use crate::cmd::{CmdError, Ctx, Outcome, Reply, later};
use crate::state::State;
use crate::state::rooms::{JoinRefused, Joined, MAX_PASSWORD};

/// How long a join waits for a room another node is creating.
const CREATION_WAIT: Duration = Duration::from_secs(3);
/// How often it looks again meanwhile.
const CREATION_POLL: Duration = Duration::from_millis(20);

pub fn apply(req: Join, ctx: &mut Ctx<'_>) -> Outcome {
    let name = match room_name(&req.room) {
        Ok(name) => name,
        Err(e) => return e.into(),
    };
    if let Err(e) = check_room_text(&req.password, MAX_PASSWORD, "room password", ctx) {
        return e.into();
    }
    if !ctx.state.delivery().claims_names() || ctx.state.rooms.get(name.as_str()).is_some() {
        return join(req, name, false, ctx).into();
    }
    let state = Arc::clone(ctx.state);
    let wanted = name.clone();
    later(
        false,
        async move { claim(&state, &wanted).await },
        move |claimed, ctx| match claimed {
            Ok(claimed) => join(req, name, claimed, ctx).into(),
            Err(e) => e.into(),
        },
    )
}

/// Claims a room this node does not know: `true` if this node is to
/// create it, `false` once another node's creation of it arrived here.
async fn claim(state: &State, name: &RoomName) -> Result<bool, CmdError> {
    let deadline = tokio::time::Instant::now() + CREATION_WAIT;
    loop {
        if state.rooms.get(name.as_str()).is_some() {
            return Ok(false);
        }
        if state.delivery().claim_room(name.key()).await? {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(CmdError::new(
                ErrorCode::ClusterUnavailable,
                format!(
                    "{name} is being created on another node and has not arrived here; try again"
                ),
            ));
        }
        tokio::time::sleep(CREATION_POLL).await;
    }
}

/// Joins (or creates) the room; `claimed`: this node claimed its name.
fn join(req: Join, name: RoomName, claimed: bool, ctx: &mut Ctx<'_>) -> Reply {
    let me = Arc::clone(ctx.me()?);
    let joined = ctx
        .state
        .rooms
        .join(&name, &me, &req.password, me.is_admin(), ctx.now.wall);
    if claimed && !matches!(joined, Ok((_, Joined::Created))) {
        ctx.state.delivery().release_room(name.key());
    }
    let (room, joined) = joined.map_err(|refused| refusal(refused, &name))?;
    if joined != Joined::AlreadyMember {
        tracing::info!(room = %room.name, created = joined == Joined::Created, "joined room");
        let members = room.read().len();
        if joined == Joined::Joined && announces_presence(ctx.state, members) {
            // With the joiner's flags and real name (IRC's extended-join).
            let profile = me.profile();
            let frame = notice(
                NoticeKind::RoomJoined,
                ctx.now.wall,
                &room,
                "",
                me.name.as_str(),
                u64::from(me.flags()),
                &profile.realname,
            );
            tell_members(ctx.state, &room, &frame, Some(&ctx.sender(&me)));
            if !profile.away.is_empty() {
                // The members learn the joiner is away (USER_UPDATE with
                // nothing changed).
                let state = crate::ops::users::update(&me, 0, "", ctx.now.wall);
                tell_members(ctx.state, &room, &state, Some(&ctx.sender(&me)));
            }
        }
        crate::cmd::metadata::joined(&room, &me, ctx.conn.id);
    }
    Ok(ServerFrame::RoomList(vec![room.info(&me.name.key())]))
}

fn refusal(refused: JoinRefused, name: &RoomName) -> CmdError {
    match refused {
        JoinRefused::InviteOnly => CmdError::new(
            ErrorCode::InviteOnly,
            format!("{name} is invite-only; ask one of its operators for an invitation"),
        ),
        JoinRefused::BadPassword => CmdError::new(
            ErrorCode::RoomPassword,
            format!("{name} needs a password, and that one is not it"),
        ),
        JoinRefused::Banned => {
            CmdError::new(ErrorCode::Banned, format!("you are banned from {name}"))
        }
        JoinRefused::Full(limit) => CmdError::new(
            ErrorCode::RoomFull,
            format!("{name} is full: it lets in {limit} members"),
        ),
        JoinRefused::UserLimit(max) => CmdError::new(
            ErrorCode::TooManyRooms,
            format!("you are in {max} rooms, as many as this server allows"),
        ),
        JoinRefused::ServerLimit(max) => CmdError::new(
            ErrorCode::TooManyRooms,
            format!("this server has {max} rooms, as many as it allows; join an existing one"),
        ),
    }
}
