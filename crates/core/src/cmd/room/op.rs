//! ROOM_OP: the owner names an operator, or makes one a plain member again.

use chinwag_proto::room::RoomOp;
use chinwag_proto::{ErrorCode, NameKey, NoticeKind, RoomRole, ServerFrame};

use super::{acting_rank, find, notice, tell_members};
use crate::cmd::{CmdError, Ctx, Reply};
use crate::store::RoomWrite;

pub fn apply(req: RoomOp, ctx: &mut Ctx<'_>) -> Reply {
    let me = ctx.me()?;
    let room = find(ctx, &req.room)?;
    let role = if req.operator {
        RoomRole::Operator
    } else {
        RoomRole::Member
    };
    let name = {
        let mut state = room.write();
        acting_rank(&state, me, &room, RoomRole::Owner)?;
        let (key, current, name) = NameKey::fold(&req.user)
            .and_then(|key| state.member(&key).map(|m| (key, m.role, m.name.clone())))
            .ok_or_else(|| {
                CmdError::new(
                    ErrorCode::NotAMember,
                    format!("{:?} is not a member of {}", &*req.user, room.name),
                )
            })?;
        if current == RoomRole::Owner {
            return Err(CmdError::new(
                ErrorCode::InvalidArgument,
                format!("{name} owns {}; the owner's role cannot change", room.name),
            ));
        }
        if let Some(record) = state.set_role(&key, role) {
            ctx.state
                .rooms
                .save(RoomWrite::Member(room.name.key(), record));
        }
        name
    };
    let frame = notice(
        NoticeKind::RoomRole,
        ctx.now.wall,
        &room,
        me.name.as_str(),
        name.as_str(),
        role as u64,
        "",
    );
    tell_members(ctx.state, &room, &frame, None);
    Ok(ServerFrame::ok(format!(
        "{name} is now {} of {}",
        if req.operator {
            "an operator"
        } else {
            "a member"
        },
        room.name
    )))
}
