//! JOIN: join a room, creating it (owned by the joiner) if it does not
//! exist.

use chinwag_proto::room::Join;
use chinwag_proto::{ErrorCode, NoticeKind, ServerFrame};

use super::{announces_presence, check_room_text, notice, room_name, tell_members};
use crate::cmd::{CmdError, Ctx, Reply};
use crate::state::rooms::{JoinRefused, Joined, MAX_PASSWORD};

pub fn apply(req: Join, ctx: &mut Ctx<'_>) -> Reply {
    let me = std::sync::Arc::clone(ctx.me()?);
    let name = room_name(&req.room)?;
    check_room_text(&req.password, MAX_PASSWORD, "room password", ctx)?;
    let (room, joined) = ctx
        .state
        .rooms
        .join(&name, &me, &req.password, me.is_admin(), ctx.now.wall)
        .map_err(|refused| refusal(refused, &name))?;
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

fn refusal(refused: JoinRefused, name: &chinwag_proto::RoomName) -> CmdError {
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
