//! BAN: keep a name or an address out, for a while or for good. The ban is
//! stored (with its audit entry, in one commit), then whoever it matches
//! online, here or on any other node, gets NOTICE Banned and is
//! disconnected.

use chinwag_proto::request::Ban;
use chinwag_proto::server::MuteState;
use chinwag_proto::{ErrorCode, ServerFrame};

use super::bantalk::told_nobody;
use super::{CmdError, Ctx, Outcome, check_reason, ends_after, format_remaining, later};
use crate::delivery::Order;
use crate::ops;
use crate::store::{AuditAction, BanRecord, BanTarget};

pub fn apply(req: Ban, ctx: &mut Ctx<'_>) -> Outcome {
    let admin = match ctx.me() {
        Ok(me) => me.name.clone(),
        Err(e) => return e.into(),
    };
    if let Err(e) = check_reason(&req.reason, ctx) {
        return e.into();
    }
    let Some(target) = BanTarget::parse(&req.dst) else {
        return CmdError::new(
            ErrorCode::InvalidArgument,
            format!("{:?} is neither a user name nor an IP address", &*req.dst),
        )
        .into();
    };
    if target == BanTarget::Name(admin.key()) {
        return CmdError::new(ErrorCode::InvalidArgument, "you cannot ban yourself").into();
    }
    let until = ends_after(req.duration_secs, ctx.now.wall);
    let ban = BanRecord {
        target: target.clone(),
        until,
        by: admin.to_string(),
        reason: req.reason.to_string(),
        at: ctx.now.wall,
    };
    let audit = ctx.state.audit(
        admin.as_str(),
        AuditAction::Ban,
        &target.to_string(),
        until.to_wire(),
        &req.reason,
    );
    if let Err(error) = ctx.state.delivery().reachable() {
        return CmdError::from(error).into();
    }
    let write = ctx.state.store.ban(ban.clone(), audit);
    later(false, write, move |written, ctx| {
        if let Err(error) = written {
            return CmdError::from(error).into();
        }
        let delivery = ctx.state.delivery();
        let mut closed = delivery.matching(&ban.target);
        if let Err(error) = delivery.order_all(Order::Ban(ban.clone())) {
            return told_nobody(&ban.target.to_string(), error);
        }
        // Not the administrator's own connection, when banning its address.
        let spare = ctx.conn.peer.as_ref().map(|me| me.id);
        closed += ops::ban::ban(ctx.state, ban, spare, ctx.now.wall);
        tracing::info!(%target, closed, "banned");
        let how_long = match until {
            MuteState::Until(end) => format!("for {}", format_remaining(end, ctx.now.wall)),
            _ => "for good".to_owned(),
        };
        Ok(ServerFrame::ok(format!(
            "banned {target} {how_long}; {closed} connection(s) closed"
        )))
        .into()
    })
}
