//! UNMUTE: lift a mute before it runs out, in the store first.

use chinwag_proto::request::Unmute;
use chinwag_proto::server::{MuteState, Notice, NoticeKind};
use chinwag_proto::{ErrorCode, NameKey, ServerFrame};

use super::{CmdError, Ctx, Outcome, later, no_such_user};
use crate::state::encode_event;
use crate::store::AuditAction;

pub fn apply(req: Unmute, ctx: &mut Ctx<'_>) -> Outcome {
    let admin = match ctx.me() {
        Ok(me) => me.name.clone(),
        Err(e) => return e.into(),
    };
    let Some(key) = NameKey::fold(&req.dst) else {
        return no_such_user(&req.dst).into();
    };
    if ctx.state.mutes.get(&key, ctx.now.wall) == MuteState::NotMuted {
        return CmdError::new(
            ErrorCode::InvalidArgument,
            format!("{} is not muted", req.dst),
        )
        .into();
    }
    let write = ctx.state.store.lift_mute(
        key,
        ctx.state
            .audit(admin.as_str(), AuditAction::Unmute, &req.dst, 0, ""),
    );
    later(false, write, move |written, ctx| {
        if let Err(error) = written {
            return CmdError::from(error).into();
        }
        ctx.state.mutes.lift(&key, ctx.now.wall);
        if let Some(peer) = ctx.state.users.get(&req.dst) {
            peer.set_muted(MuteState::NotMuted);
            let _ = peer.outbox.push(encode_event(&ServerFrame::Notice(Notice {
                kind: NoticeKind::Unmuted,
                ts: ctx.now.wall,
                actor: admin.as_str().into(),
                subject: peer.name.as_str().into(),
                until: 0,
                text: "".into(),
            })));
        }
        tracing::info!(target_user = %req.dst, "unmuted");
        Ok(ServerFrame::ok(format!("unmuted {}", req.dst))).into()
    })
}
