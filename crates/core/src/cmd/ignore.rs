//! IGNORE: the sender stops being shown a user's messages (direct,
//! broadcast and room messages, live or queued while it was away), or is
//! shown them again. The ignored user is not told: its messages are taken
//! as delivered. An account's list is kept by the store, so every session
//! of it, now and later, is spared them; a guest's lasts while it is
//! online.

use std::sync::Arc;

use chinwag_proto::request::Ignore;
use chinwag_proto::{ErrorCode, ServerFrame, UserName};

use super::{CmdError, Ctx, Outcome, later};

/// Most users one may ignore.
pub const MAX_IGNORED: usize = 1_000;

pub fn apply(req: Ignore, ctx: &mut Ctx<'_>) -> Outcome {
    let me = match ctx.me() {
        Ok(me) => Arc::clone(me),
        Err(e) => return e.into(),
    };
    let user = match UserName::parse(&req.dst) {
        Ok(user) => user,
        Err(e) => {
            return CmdError::new(
                ErrorCode::InvalidName,
                format!("cannot ignore {:?}: {e}", &*req.dst),
            )
            .into();
        }
    };
    // Spelled as its owner spells it, when online here.
    let user = ctx
        .state
        .users
        .get(user.as_str())
        .map_or(user, |peer| peer.name.clone());
    if user.key() == me.name.key() {
        return CmdError::new(ErrorCode::InvalidArgument, "you cannot ignore yourself").into();
    }
    if req.ignore && me.ignoring().len() >= MAX_IGNORED {
        return CmdError::new(
            ErrorCode::InvalidArgument,
            format!("you ignore {MAX_IGNORED} users already; stop ignoring one first"),
        )
        .into();
    }
    let changed = me.set_ignoring(&user, req.ignore);
    let said = match (req.ignore, changed) {
        (true, true) => format!("ignoring {user}"),
        (true, false) => format!("already ignoring {user}"),
        (false, true) => format!("no longer ignoring {user}"),
        (false, false) => format!("{user} was not ignored"),
    };
    if !me.account {
        return Ok(ServerFrame::ok(said)).into();
    }
    let store = &ctx.state.store;
    let stored = store.set_ignore(me.name.key(), user.clone(), req.ignore);
    later(false, stored, move |stored, _| match stored {
        Ok(_) => Ok(ServerFrame::ok(said)).into(),
        Err(error) => {
            // Not kept, so not in force either: the answer says so.
            if changed {
                me.set_ignoring(&user, !req.ignore);
            }
            CmdError::from(error).into()
        }
    })
}
