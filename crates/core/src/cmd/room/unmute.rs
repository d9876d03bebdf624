//! ROOM_UNMUTE: lift a member's mute in one room (operators).

use chinwag_proto::room::RoomUnmute;
use chinwag_proto::{ErrorCode, NameKey, NoticeKind, RoomRole, ServerFrame};

use super::{acting_rank, find, notice, tell_user};
use crate::cmd::{CmdError, Ctx, Reply};
use crate::store::RoomWrite;

pub fn apply(req: RoomUnmute, ctx: &mut Ctx<'_>) -> Reply {
    let me = ctx.me()?;
    let room = find(ctx, &req.room)?;
    let (lifted, member) = {
        let mut state = room.write();
        acting_rank(&state, me, &room, RoomRole::Operator)?;
        match NameKey::fold(&req.user) {
            Some(key) => {
                let lifted = state.unmute(&key, ctx.now.wall);
                if lifted {
                    ctx.state.rooms.save(
                        &room,
                        &mut state,
                        RoomWrite::Mute(
                            room.name.key(),
                            key,
                            chinwag_proto::server::MuteState::NotMuted,
                        ),
                    );
                }
                (lifted, state.member(&key).map(|m| m.name.clone()))
            }
            None => (false, None),
        }
    };
    if !lifted {
        return Err(CmdError::new(
            ErrorCode::InvalidArgument,
            format!("{:?} is not muted in {}", &*req.user, room.name),
        ));
    }
    if let Some(name) = &member {
        tell_user(
            ctx.state,
            name.as_str(),
            notice(
                NoticeKind::RoomUnmuted,
                ctx.now.wall,
                &room,
                me.name.as_str(),
                name.as_str(),
                0,
                "",
            ),
        );
    }
    Ok(ServerFrame::ok(format!(
        "{} may talk in {} again",
        &*req.user, room.name
    )))
}
