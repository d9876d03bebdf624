//! UNMUTE: lift a mute before it runs out, on every node of a cluster.

use std::sync::Arc;

use chinwag_proto::request::Unmute;
use chinwag_proto::server::{MuteState, Notice, NoticeKind, Timestamp};
use chinwag_proto::{ErrorCode, NameKey, ServerFrame};

use super::{CmdError, Ctx, Reply, no_such_user};
use crate::cluster::{NodeMessage, Order};
use crate::state::{State, encode_event};

pub fn apply(req: Unmute, ctx: &mut Ctx<'_>) -> Reply {
    let admin = ctx.me()?.name.clone();
    let key = NameKey::fold(&req.dst).ok_or_else(|| no_such_user(&req.dst))?;
    if ctx.state.mutes.get(&key, ctx.now.wall) == MuteState::NotMuted {
        return Err(CmdError::new(
            ErrorCode::InvalidArgument,
            format!("{} is not muted", req.dst),
        ));
    }
    if let Some(cluster) = ctx.state.cluster() {
        cluster
            .tell_all(NodeMessage::Order(Order::Unmute {
                user: req.dst.to_string(),
                admin: admin.to_string(),
                ts: ctx.now.wall.0,
            }))
            .map_err(CmdError::from)?;
    }
    unmute_by_name(ctx.state, key, admin.as_str(), ctx.now.wall);
    tracing::info!(target_user = %req.dst, "unmuted");
    Ok(ServerFrame::ok(format!("unmuted {}", req.dst)))
}

/// Lifts a mute and tells the user if the user is on this node. What a
/// node does for an UNMUTE, its own or another node's.
pub fn unmute_by_name(state: &Arc<State>, key: NameKey, admin: &str, now: Timestamp) {
    state.mutes.lift(&key, now);
    let Some(peer) = state.users.get(key.as_str()) else {
        return;
    };
    peer.set_muted(MuteState::NotMuted);
    if let Some(cluster) = state.cluster() {
        cluster.republish(&peer);
    }
    let _ = peer.outbox.push(encode_event(&ServerFrame::Notice(Notice {
        kind: NoticeKind::Unmuted,
        ts: now,
        actor: admin.into(),
        subject: peer.name.as_str().into(),
        until: 0,
        text: "".into(),
    })));
}
