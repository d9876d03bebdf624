//! BANTALK: mute a user for a while, or until an administrator lifts it.
//! In a cluster the user may be on another node: every node is told, as
//! every node keeps the mutes by name.

use std::sync::Arc;
use std::time::Duration;

use chinwag_proto::request::Bantalk;
use chinwag_proto::server::{MuteState, Notice, NoticeKind, Timestamp};
use chinwag_proto::{NameKey, ServerFrame};

use super::{CmdError, Ctx, Reply, check_reason, format_remaining, no_such_user};
use crate::cluster::{NodeMessage, Order};
use crate::state::{Mute, State, encode_event};

pub fn apply(req: Bantalk, ctx: &mut Ctx<'_>) -> Reply {
    let admin = ctx.me()?.name.clone();
    check_reason(&req.reason, ctx)?;
    let until = match req.duration_secs {
        0 => MuteState::UntilLifted,
        secs => MuteState::Until(Timestamp(
            ctx.now.wall.0.saturating_add(u64::from(secs) * 1000),
        )),
    };
    let mute = Mute {
        until,
        by: admin.to_string(),
        reason: req.reason.to_string(),
    };
    let name = match ctx.state.users.get(&req.dst) {
        Some(victim) => victim.name.to_string(),
        None => {
            // On another node, or nowhere.
            let cluster = ctx.state.cluster().ok_or_else(|| no_such_user(&req.dst))?;
            let remote = cluster
                .locate(&req.dst)
                .ok_or_else(|| no_such_user(&req.dst))?;
            remote.record.name
        }
    };
    if let Some(cluster) = ctx.state.cluster() {
        cluster
            .tell_all(NodeMessage::Order(Order::Mute {
                user: name.clone(),
                admin: admin.to_string(),
                reason: req.reason.to_string(),
                until: until.to_wire(),
                secs: req.duration_secs,
                ts: ctx.now.wall.0,
            }))
            .map_err(CmdError::from)?;
    }
    let key = NameKey::fold(&name).ok_or_else(|| no_such_user(&name))?;
    mute_by_name(ctx.state, key, mute, req.duration_secs, ctx.now.wall);
    tracing::info!(target_user = %name, secs = req.duration_secs, "muted");
    Ok(ServerFrame::ok(match until {
        MuteState::Until(end) => {
            format!("muted {name} for {}", format_remaining(end, ctx.now.wall))
        }
        _ => format!("muted {name} until lifted"),
    }))
}

/// Records a mute and applies it to the user if the user is on this node:
/// the user is told, and a timed mute is lifted when it runs out. What a
/// node does for a BANTALK, its own or another node's.
pub fn mute_by_name(state: &Arc<State>, key: NameKey, mute: Mute, secs: u32, now: Timestamp) {
    let until = mute.until;
    let reason = mute.reason.clone();
    let admin = mute.by.clone();
    state.mutes.set(key, mute);
    if secs > 0 {
        schedule_expiry(
            Arc::clone(state),
            key,
            until,
            Duration::from_secs(secs.into()),
        );
    }
    let Some(victim) = state.users.get(key.as_str()) else {
        return;
    };
    victim.set_muted(until);
    if let Some(cluster) = state.cluster() {
        cluster.republish(&victim);
    }
    let _ = victim
        .outbox
        .push(encode_event(&ServerFrame::Notice(Notice {
            kind: NoticeKind::Muted,
            ts: now,
            actor: admin.as_str().into(),
            subject: victim.name.as_str().into(),
            until: until.to_wire(),
            text: reason.into(),
        })));
}

/// When a timed mute runs out, tell the user they may talk again (unless
/// the mute was replaced or lifted in the meantime).
fn schedule_expiry(state: Arc<State>, key: NameKey, until: MuteState, after: Duration) {
    tokio::spawn(async move {
        tokio::select! {
            () = tokio::time::sleep(after) => {}
            () = state.shutdown.wait() => return,
        }
        if !state.mutes.expire(&key, until) {
            return;
        }
        if let Some(peer) = state.users.get(key.as_str()) {
            peer.set_muted(MuteState::NotMuted);
            if let Some(cluster) = state.cluster() {
                cluster.republish(&peer);
            }
            let _ = peer.outbox.push(encode_event(&ServerFrame::Notice(Notice {
                kind: NoticeKind::Unmuted,
                ts: Timestamp::now(),
                actor: "".into(),
                subject: peer.name.as_str().into(),
                until: 0,
                text: "the mute ran out".into(),
            })));
        }
    });
}
