//! KICKOUT: tell the target why, disconnect it, tell everyone else.

use chinwag_proto::ServerFrame;
use chinwag_proto::request::Kickout;
use chinwag_proto::server::{Notice, NoticeKind};

use super::{Ctx, Reply, check_reason, no_such_user, target};
use crate::state::encode_event;

pub fn apply(req: Kickout, ctx: &mut Ctx<'_>) -> Reply {
    let admin = ctx.me()?.name.clone();
    check_reason(&req.reason, ctx)?;
    let victim = target(ctx, &req.dst)?;
    // Releasing the name here, not in the victim's session, means the
    // victim's next frame (already in flight) finds it is no longer
    // registered, and that the leave notice carries the kick's reason.
    if !ctx.state.users.release(&victim.name, victim.conn) {
        return Err(no_such_user(&req.dst));
    }
    let reason = if req.reason.is_empty() {
        "no reason given"
    } else {
        &req.reason
    };
    victim
        .outbox
        .close_with(Some(encode_event(&ServerFrame::Notice(Notice {
            kind: NoticeKind::Kicked,
            ts: ctx.now.wall,
            actor: admin.as_str().into(),
            subject: victim.name.as_str().into(),
            until: 0,
            text: reason.into(),
        }))));
    ctx.state.announce_presence(
        &ServerFrame::Notice(Notice {
            kind: NoticeKind::Left,
            ts: ctx.now.wall,
            actor: admin.as_str().into(),
            subject: victim.name.as_str().into(),
            until: 0,
            text: format!("kicked by {admin}: {reason}").into(),
        }),
        Some(victim.conn),
    );
    tracing::info!(target_user = %victim.name, %reason, "kicked");
    Ok(ServerFrame::ok(format!("kicked {}", victim.name)))
}
