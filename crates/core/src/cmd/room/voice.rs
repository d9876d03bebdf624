//! ROOM_VOICE: let a member talk whatever the room's moderation and mute
//! masks, or take that back (operators). A mute by name still holds.

use chinwag_proto::room::RoomVoice;
use chinwag_proto::{NameKey, NoticeKind, RoomRole, ServerFrame};

use super::{absent_target, acting_rank, find, notice, tell_members};
use crate::cmd::{CmdError, Ctx, Outcome};

pub fn apply(req: RoomVoice, ctx: &mut Ctx<'_>) -> Outcome {
    match voice(&req, ctx) {
        Ok(outcome) => outcome,
        Err(e) => e.into(),
    }
}

fn voice(req: &RoomVoice, ctx: &mut Ctx<'_>) -> Result<Outcome, CmdError> {
    let me = ctx.me()?;
    let room = find(ctx, &req.room)?;
    let name = {
        let mut state = room.write();
        acting_rank(&state, me, &room, RoomRole::Operator)?;
        let member = NameKey::fold(&req.user)
            .and_then(|key| state.member(&key).map(|m| (key, m.name.clone())));
        let Some((key, name)) = member else {
            drop(state);
            return Ok(absent_target(ctx, &room, &req.user));
        };
        state.set_voice(&key, req.voiced);
        ctx.state.rooms.save_member(&room, &mut state, &key);
        name
    };
    let frame = notice(
        NoticeKind::RoomVoice,
        ctx.now.wall,
        &room,
        me.name.as_str(),
        name.as_str(),
        u64::from(req.voiced),
        "",
    );
    tell_members(ctx.state, &room, &frame, None);
    let done = ServerFrame::ok(format!(
        "{name} {} in {}",
        if req.voiced {
            "may talk whatever the moderation"
        } else {
            "is no longer voiced"
        },
        room.name
    ));
    Ok(Outcome::from(Ok::<_, CmdError>(done)))
}
