//! PROFILE: set what others are shown about the sender besides its name
//! (in GETALLUSER's entries): a user name, a real name and an away
//! message. One per user: the last session to set it wins.

use chinwag_proto::request::Profile;
use chinwag_proto::{ErrorCode, ServerFrame};

use super::{CmdError, Ctx, Reply};
use crate::state::users::UserProfile;

/// Most bytes of each field.
pub const MAX_FIELD: usize = 256;

pub fn apply(req: Profile, ctx: &mut Ctx<'_>) -> Reply {
    let me = ctx.me()?;
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
    me.set_profile(UserProfile {
        username: req.username,
        realname: req.realname,
        away: req.away,
    });
    Ok(ServerFrame::ok("profile set"))
}
