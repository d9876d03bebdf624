//! PROFILE: set what others are shown about the sender besides its name
//! (in GETALLUSER's entries): a user name, a real name and an away
//! message. One per user: the last session to set it wins. Sent before
//! REGISTER, it is the profile the user comes online with; after, those
//! concerned are told what changed (USER_UPDATE, see [`ops::users`]).

use chinwag_proto::request::Profile;
use chinwag_proto::{ErrorCode, ServerFrame};

use super::{CmdError, Ctx, Reply};
use crate::ops;
use crate::state::users::UserProfile;

/// Most bytes of each field.
pub const MAX_FIELD: usize = 256;

pub fn apply(req: Profile, ctx: &mut Ctx<'_>) -> Reply {
    for (field, text) in [
        ("username", &req.username),
        ("realname", &req.realname),
        ("away", &req.away),
    ] {
        if !text.is_empty() {
            chinwag_proto::text::validate(text, MAX_FIELD)
                .map_err(|e| CmdError::new(ErrorCode::InvalidContent, format!("{field}: {e}")))?;
        }
    }
    let profile = UserProfile {
        username: req.username,
        realname: req.realname,
        away: req.away,
    };
    let Some(me) = ctx.conn.peer.clone() else {
        ctx.conn.profile = Some(profile);
        return Ok(ServerFrame::ok("profile kept for REGISTER"));
    };
    let changed = ops::users::changes(&me.profile(), &profile);
    me.set_profile(profile);
    if changed != 0 {
        let event = ops::users::update(&me, changed, "", ctx.now.wall);
        ops::users::tell_change(ctx.state, &me, &event, Some(ctx.conn.id));
    }
    Ok(ServerFrame::ok("profile set"))
}
