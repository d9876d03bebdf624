//! ROOM_MODE: make a room invite-only and/or password-protected, or open
//! it again (operators).

use chinwag_proto::room::SetRoomMode;
use chinwag_proto::{ErrorCode, NoticeKind, RoomRole, ServerFrame};

use super::{acting_rank, check_room_text, find, notice, tell_members};
use crate::cmd::{CmdError, Ctx, Reply};
use crate::state::rooms::MAX_PASSWORD;
use crate::store::RoomWrite;

pub fn apply(req: SetRoomMode, ctx: &mut Ctx<'_>) -> Reply {
    let me = ctx.me()?;
    let room = find(ctx, &req.room)?;
    check_room_text(&req.password, MAX_PASSWORD, "room password", ctx)?;
    if !req.mode.password() && !req.password.is_empty() {
        return Err(CmdError::new(
            ErrorCode::InvalidArgument,
            "a password needs the password mode (flag 2)",
        ));
    }
    {
        let mut state = room.write();
        acting_rank(&state, me, &room, RoomRole::Operator)?;
        if req.mode.password() && req.password.is_empty() && !state.has_password() {
            return Err(CmdError::new(
                ErrorCode::InvalidArgument,
                format!("{} has no password to keep; give one", room.name),
            ));
        }
        let password = (!req.password.is_empty()).then(|| req.password.to_string());
        state.set_mode(req.mode, password);
        let meta = state.meta(&room.name);
        ctx.state
            .rooms
            .save(&room, &mut state, RoomWrite::Meta(meta));
    }
    let frame = notice(
        NoticeKind::RoomMode,
        ctx.now.wall,
        &room,
        me.name.as_str(),
        "",
        u64::from(req.mode.bits()),
        "",
    );
    tell_members(ctx.state, &room, &frame, None);
    tracing::info!(room = %room.name, mode = %req.mode, "room mode set");
    Ok(ServerFrame::ok(format!(
        "{} is now {}",
        room.name, req.mode
    )))
}
