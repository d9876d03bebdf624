//! INVITE: let a user into a room once, whatever its mode (operators).

use chinwag_proto::room::Invite;
use chinwag_proto::{ErrorCode, NoticeKind, RoomRole, ServerFrame, UserName};

use super::{acting_rank, find, notice, tell_user};
use crate::cmd::{CmdError, Ctx, Reply};
use crate::state::rooms::MAX_INVITATIONS;

pub fn apply(req: Invite, ctx: &mut Ctx<'_>) -> Reply {
    let me = ctx.me()?;
    let room = find(ctx, &req.room)?;
    let user = UserName::parse(&req.user).map_err(|e| {
        CmdError::new(
            ErrorCode::InvalidName,
            format!("invalid name {:?}: {e}", &*req.user),
        )
    })?;
    {
        let mut state = room.write();
        acting_rank(&state, me, &room, RoomRole::Operator)?;
        if state.member(&user.key()).is_some() {
            return Err(CmdError::new(
                ErrorCode::InvalidArgument,
                format!("{user} is already a member of {}", room.name),
            ));
        }
        if !state.invite(user.key()) {
            return Err(CmdError::new(
                ErrorCode::InvalidArgument,
                format!(
                    "{} has {MAX_INVITATIONS} invitations pending already",
                    room.name
                ),
            ));
        }
    }
    tell_user(
        ctx.state,
        user.as_str(),
        notice(
            NoticeKind::RoomInvited,
            ctx.now.wall,
            &room,
            me.name.as_str(),
            user.as_str(),
            0,
            "",
        ),
    );
    Ok(ServerFrame::ok(format!("invited {user} to {}", room.name)))
}
