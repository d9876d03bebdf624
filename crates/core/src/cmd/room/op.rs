//! ROOM_OP: the owner names an operator, or makes one a plain member
//! again. The owner may also step down: unnaming itself makes it a plain
//! member, and the longest-standing operator, if any, owns the room then.

use chinwag_proto::room::RoomOp;
use chinwag_proto::{ErrorCode, NameKey, NoticeKind, RoomRole, ServerFrame};

use super::{absent_target, acting_rank, find, notice, tell_members};
use crate::cmd::{CmdError, Ctx, Outcome};

pub fn apply(req: RoomOp, ctx: &mut Ctx<'_>) -> Outcome {
    match op(&req, ctx) {
        Ok(outcome) => outcome,
        Err(e) => e.into(),
    }
}

fn op(req: &RoomOp, ctx: &mut Ctx<'_>) -> Result<Outcome, CmdError> {
    let me = ctx.me()?;
    let room = find(ctx, &req.room)?;
    let role = if req.operator {
        RoomRole::Operator
    } else {
        RoomRole::Member
    };
    // Each change: who, and the role now.
    let mut changes = Vec::new();
    {
        let mut state = room.write();
        acting_rank(&state, me, &room, RoomRole::Owner)?;
        let target = NameKey::fold(&req.user)
            .and_then(|key| state.member(&key).map(|m| (key, m.role, m.name.clone())));
        let Some((key, current, name)) = target else {
            drop(state);
            return Ok(absent_target(ctx, &room, &req.user));
        };
        if current == RoomRole::Owner {
            if req.operator {
                return Err(CmdError::new(
                    ErrorCode::InvalidArgument,
                    format!("{name} owns {} already", room.name),
                ));
            }
            if key != me.name.key() {
                return Err(CmdError::new(
                    ErrorCode::InvalidArgument,
                    format!("{name} owns {}; only they may step down", room.name),
                ));
            }
            let heir = state.step_down(&key);
            ctx.state.rooms.save_member(&room, &mut state, &key);
            changes.push((name, RoomRole::Member));
            if let Some(heir) = heir {
                ctx.state.rooms.save_member(&room, &mut state, &heir.key());
                changes.push((heir, RoomRole::Owner));
            }
        } else {
            state.set_role(&key, role);
            ctx.state.rooms.save_member(&room, &mut state, &key);
            changes.push((name, role));
        }
    }
    for (name, role) in &changes {
        let frame = notice(
            NoticeKind::RoomRole,
            ctx.now.wall,
            &room,
            me.name.as_str(),
            name.as_str(),
            *role as u64,
            "",
        );
        tell_members(ctx.state, &room, &frame, None);
    }
    let (name, role) = &changes[0];
    let done = ServerFrame::ok(format!(
        "{name} is now {} of {}",
        match role {
            RoomRole::Operator => "an operator",
            _ => "a member",
        },
        room.name
    ));
    Ok(Outcome::from(Ok::<_, CmdError>(done)))
}
