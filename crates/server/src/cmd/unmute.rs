//! UNMUTE: lift a mute before it runs out.

use chinwag_proto::request::Unmute;
use chinwag_proto::server::{MuteState, Notice, NoticeKind};
use chinwag_proto::{ErrorCode, NameKey, ServerFrame};

use super::{CmdError, Ctx, Reply, no_such_user};
use crate::state::encode_event;

pub fn apply(req: Unmute, ctx: &mut Ctx<'_>) -> Reply {
    let admin = ctx.me()?.name.clone();
    let key = NameKey::fold(&req.dst).ok_or_else(|| no_such_user(&req.dst))?;
    let lifted = ctx.state.mutes.lift(&key, ctx.now.wall);
    let online = ctx.state.users.get(&req.dst);
    if !lifted {
        return Err(CmdError::new(
            ErrorCode::InvalidArgument,
            format!("{} is not muted", req.dst),
        ));
    }
    if let Some(peer) = online {
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
    Ok(ServerFrame::ok(format!("unmuted {}", req.dst)))
}
