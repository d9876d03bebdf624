//! ROOM_MASK: read or change one of a room's mask lists (bans, ban
//! exceptions, invite exceptions, mute masks, mute exceptions). Changing
//! one is for operators; reading one, for whoever may see the room's
//! members.

use chinwag_proto::room::{MaskAction, RoomMask};
use chinwag_proto::{ErrorCode, NoticeKind, RoomRole, ServerFrame};

use super::{acting_rank, find, not_a_member, notice, tell_members};
use crate::cmd::{CmdError, Ctx, Reply};
use crate::state::rooms::normalize_mask;
use crate::store::{MaskRecord, RoomWrite};

pub fn apply(req: RoomMask, ctx: &mut Ctx<'_>) -> Reply {
    let me = ctx.me()?;
    let room = find(ctx, &req.room)?;
    if req.action == MaskAction::List {
        if !req.mask.is_empty() {
            return Err(CmdError::new(
                ErrorCode::InvalidArgument,
                "listing takes no mask; leave it empty",
            ));
        }
        let state = room.read();
        if !me.is_admin() && !state.visible_to(&me.name.key()) {
            return Err(not_a_member(&room));
        }
        return Ok(ServerFrame::MaskList {
            room: room.name.as_str().into(),
            list: req.list,
            masks: state.mask_list(req.list),
        });
    }
    let mask =
        normalize_mask(&req.mask).map_err(|why| CmdError::new(ErrorCode::InvalidArgument, why))?;
    let added = req.action == MaskAction::Add;
    let changed = {
        let mut state = room.write();
        acting_rank(&state, me, &room, RoomRole::Operator)?;
        if added {
            let record = MaskRecord {
                list: req.list,
                mask: mask.clone(),
                set_by: me.name.to_string(),
                set_at: ctx.now.wall,
            };
            let added = state.add_mask(record.clone()).map_err(|max| {
                CmdError::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "the {} list of {} is full ({max} masks)",
                        req.list.name(),
                        room.name
                    ),
                )
            })?;
            if added {
                ctx.state
                    .rooms
                    .save(&room, &mut state, RoomWrite::Mask(room.name.key(), record));
            }
            added
        } else {
            let removed = state.remove_mask(req.list, &mask);
            if removed {
                ctx.state.rooms.save(
                    &room,
                    &mut state,
                    RoomWrite::Unmask(room.name.key(), req.list, mask.clone()),
                );
            }
            removed
        }
    };
    if changed {
        let removal = if added { 0 } else { 256 };
        let frame = notice(
            NoticeKind::RoomMask,
            ctx.now.wall,
            &room,
            me.name.as_str(),
            &mask,
            u64::from(req.list as u8) + removal,
            "",
        );
        tell_members(ctx.state, &room, &frame, None);
        tracing::info!(room = %room.name, list = req.list.name(), %mask, added, "room mask changed");
    }
    Ok(ServerFrame::ok(match (added, changed) {
        (true, true) => format!("{mask} is on the {} list of {}", req.list.name(), room.name),
        (true, false) => format!(
            "{mask} was on the {} list of {} already",
            req.list.name(),
            room.name
        ),
        (false, true) => format!(
            "{mask} is off the {} list of {}",
            req.list.name(),
            room.name
        ),
        (false, false) => format!(
            "{mask} was not on the {} list of {}",
            req.list.name(),
            room.name
        ),
    }))
}
