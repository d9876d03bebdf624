//! BAN: keep a name or an address out, for a while or for good. The ban is
//! stored (with its audit entry, in one commit), then whoever it matches
//! online gets NOTICE Banned and is disconnected.

use chinwag_proto::request::Ban;
use chinwag_proto::server::{MuteState, Notice, NoticeKind};
use chinwag_proto::{ErrorCode, ServerFrame};

use super::{
    CmdError, Ctx, Outcome, check_reason, disconnect, ends_after, format_remaining, later,
};
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
    let write = ctx.state.store.ban(ban.clone(), audit);
    later(false, write, move |written, ctx| {
        if let Err(error) = written {
            return CmdError::from(error).into();
        }
        ctx.state.bans.set(ban);
        // Not the administrator's own connection, when banning its address.
        let me = ctx.conn.id;
        let victims = ctx.state.users.find(|peer| {
            peer.conn != me
                && match &target {
                    BanTarget::Name(key) => peer.name.key() == *key,
                    BanTarget::Addr(addr) => peer.addr.ip().to_canonical() == *addr,
                }
        });
        let reason = if req.reason.is_empty() {
            "no reason given"
        } else {
            &req.reason
        };
        let mut disconnected = 0;
        for victim in victims {
            let notice = Notice {
                kind: NoticeKind::Banned,
                ts: ctx.now.wall,
                actor: admin.as_str().into(),
                subject: victim.name.as_str().into(),
                until: until.to_wire(),
                text: reason.into(),
            };
            if disconnect(
                ctx.state,
                &victim,
                notice,
                format!("banned by {admin}: {reason}"),
            ) {
                disconnected += 1;
            }
        }
        tracing::info!(%target, disconnected, "banned");
        let how_long = match until {
            MuteState::Until(end) => format!("for {}", format_remaining(end, ctx.now.wall)),
            _ => "for good".to_owned(),
        };
        Ok(ServerFrame::ok(format!(
            "banned {target} {how_long}; {disconnected} connection(s) closed"
        )))
        .into()
    })
}
