//! KICKOUT: tell the target why, disconnect it, tell everyone else, and
//! log it.

use chinwag_proto::request::Kickout;
use chinwag_proto::server::{Notice, NoticeKind};
use chinwag_proto::{ErrorCode, ServerFrame};

use super::{CmdError, Ctx, Outcome, check_reason, disconnect, later, no_such_user, target};
use crate::store::AuditAction;

pub fn apply(req: Kickout, ctx: &mut Ctx<'_>) -> Outcome {
    let admin = match ctx.me() {
        Ok(me) => me.name.clone(),
        Err(e) => return e.into(),
    };
    let victim = match check_reason(&req.reason, ctx).and_then(|()| target(ctx, &req.dst)) {
        Ok(victim) => victim,
        Err(e) => return e.into(),
    };
    let reason = if req.reason.is_empty() {
        "no reason given"
    } else {
        &req.reason
    };
    let kicked = disconnect(
        ctx.state,
        &victim,
        Notice {
            kind: NoticeKind::Kicked,
            ts: ctx.now.wall,
            actor: admin.as_str().into(),
            subject: victim.name.as_str().into(),
            until: 0,
            text: reason.into(),
        },
        format!("kicked by {admin}: {reason}"),
    );
    if !kicked {
        return no_such_user(&req.dst).into();
    }
    tracing::info!(target_user = %victim.name, %reason, "kicked");
    // The kick is done; the reply waits until it is in the audit log.
    let record = ctx.state.store.record(ctx.state.audit(
        admin.as_str(),
        AuditAction::Kick,
        victim.name.as_str(),
        0,
        &req.reason,
    ));
    let name = victim.name.clone();
    later(false, record, move |written, _| {
        Outcome::Ready(match written {
            Ok(()) => Ok(ServerFrame::ok(format!("kicked {name}"))),
            Err(error) => Err(CmdError::new(
                ErrorCode::StorageFailure,
                format!("kicked {name}, but the audit log could not record it: {error}"),
            )),
        })
    })
}
