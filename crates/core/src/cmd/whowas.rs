//! WHOWAS: who had a name lately, newest first, from the record of
//! departures (see [`crate::state::whowas`]).

use chinwag_proto::request::Whowas;
use chinwag_proto::{ErrorCode, NameKey, ServerFrame};

use super::{CmdError, Ctx, Reply};

pub fn apply(req: Whowas, ctx: &mut Ctx<'_>) -> Reply {
    ctx.me()?;
    let key = NameKey::fold(&req.dst).ok_or_else(|| {
        CmdError::new(
            ErrorCode::InvalidName,
            format!("{:?} is not a name", req.dst.as_ref() as &str),
        )
    })?;
    Ok(ServerFrame::WhowasList(
        ctx.state.whowas.find(&key, usize::from(req.limit)),
    ))
}
