//! KICKOUT: tell the target why, disconnect it, tell everyone else.

use std::sync::Arc;

use chinwag_proto::ServerFrame;
use chinwag_proto::request::Kickout;
use chinwag_proto::server::{Notice, NoticeKind, Timestamp};

use super::{Ctx, Reply, check_reason, no_such_user, target};
use crate::state::{Peer, State, encode_event};

pub fn apply(req: Kickout, ctx: &mut Ctx<'_>) -> Reply {
    let admin = ctx.me()?.name.clone();
    check_reason(&req.reason, ctx)?;
    let victim = target(ctx, &req.dst)?;
    if !kick(
        ctx.state,
        &victim,
        admin.as_str(),
        &req.reason,
        ctx.now.wall,
    ) {
        return Err(no_such_user(&req.dst));
    }
    Ok(ServerFrame::ok(format!("kicked {}", victim.name)))
}

/// Kicks a local user: frees the name, tells the victim why, closes its
/// connection and tells everyone else. `false` if the victim had already
/// gone. Also what a node does when another node routes a kick to it.
pub fn kick(
    state: &Arc<State>,
    victim: &Arc<Peer>,
    admin: &str,
    reason: &str,
    now: Timestamp,
) -> bool {
    // Releasing the name here, not in the victim's session, means the
    // victim's next frame (already in flight) finds it is no longer
    // registered, and that the leave notice carries the kick's reason.
    if !state.users.release(&victim.name, victim.conn) {
        return false;
    }
    let reason = if reason.is_empty() {
        "no reason given"
    } else {
        reason
    };
    victim
        .outbox
        .close_with(Some(encode_event(&ServerFrame::Notice(Notice {
            kind: NoticeKind::Kicked,
            ts: now,
            actor: admin.into(),
            subject: victim.name.as_str().into(),
            until: 0,
            text: reason.into(),
        }))));
    state.announce_presence(
        &ServerFrame::Notice(Notice {
            kind: NoticeKind::Left,
            ts: now,
            actor: admin.into(),
            subject: victim.name.as_str().into(),
            until: 0,
            text: format!("kicked by {admin}: {reason}").into(),
        }),
        Some(victim.conn),
    );
    tracing::info!(target_user = %victim.name, %reason, "kicked");
    true
}
