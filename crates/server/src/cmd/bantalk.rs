//! BANTALK: mute a user for a while, or until an administrator lifts it.
//! The mute is stored (with the audit entry, in one commit) before it takes
//! effect, so it survives reconnects and restarts. An offline account can
//! be muted too, from its next login on. In a cluster the user
//! may be on another node: every node is told, as each keeps the mutes by
//! name.

use std::sync::Arc;
use std::time::Duration;

use chinwag_proto::request::Bantalk;
use chinwag_proto::server::{MuteState, Notice, NoticeKind, Timestamp};
use chinwag_proto::{ErrorCode, NameKey, ServerFrame, UserName};

use super::{
    CmdError, Ctx, Outcome, check_reason, ends_after, format_remaining, later, no_such_user,
};
use crate::cluster::{NodeMessage, Order};
use crate::event::Event;
use crate::state::{Mute, State};
use crate::store::{AuditAction, MuteRecord};

pub fn apply(req: Bantalk, ctx: &mut Ctx<'_>) -> Outcome {
    let admin = match ctx.me() {
        Ok(me) => me.name.clone(),
        Err(e) => return e.into(),
    };
    if let Err(e) = check_reason(&req.reason, ctx) {
        return e.into();
    }
    match online_name(ctx, &req.dst) {
        Ok(name) => mute(req, admin, name, ctx),
        // Offline: an account can be muted before its next login.
        Err(e) if e.code == ErrorCode::NoSuchUser => {
            let Some(key) = NameKey::fold(&req.dst) else {
                return e.into();
            };
            let store = Arc::clone(&ctx.state.store);
            later(
                false,
                async move { store.account(key).await },
                move |account, ctx| match account {
                    Ok(Some(account)) => mute(req, admin, account.name, ctx),
                    Ok(None) => no_such_user(&req.dst).into(),
                    Err(error) => CmdError::from(error).into(),
                },
            )
        }
        Err(e) => e.into(),
    }
}

/// Stores the mute of `name` (spelled as the user or account spells it),
/// then applies it wherever the user is.
fn mute(req: Bantalk, admin: UserName, name: String, ctx: &mut Ctx<'_>) -> Outcome {
    let Some(key) = NameKey::fold(&name) else {
        return no_such_user(&req.dst).into();
    };
    let until = ends_after(req.duration_secs, ctx.now.wall);
    let write = ctx.state.store.set_mute(
        MuteRecord {
            name: key,
            until,
            by: admin.to_string(),
            reason: req.reason.to_string(),
        },
        ctx.state.audit(
            admin.as_str(),
            AuditAction::Mute,
            &name,
            until.to_wire(),
            &req.reason,
        ),
    );
    later(false, write, move |written, ctx| {
        if let Err(error) = written {
            return CmdError::from(error).into();
        }
        let mute = Mute {
            until,
            by: admin.to_string(),
            reason: req.reason.to_string(),
        };
        if let Some(cluster) = ctx.state.cluster() {
            let order = NodeMessage::Order(Order::Mute {
                user: name.clone(),
                admin: admin.to_string(),
                reason: req.reason.to_string(),
                until: until.to_wire(),
                secs: req.duration_secs,
                ts: ctx.now.wall.0,
            });
            if let Err(error) = cluster.tell_all(order) {
                return told_nobody(&name, error);
            }
        }
        mute_by_name(ctx.state, key, mute, req.duration_secs, ctx.now.wall);
        tracing::info!(target_user = %name, secs = req.duration_secs, "muted");
        Ok(ServerFrame::ok(match until {
            MuteState::Until(end) => {
                format!("muted {name} for {}", format_remaining(end, ctx.now.wall))
            }
            _ => format!("muted {name} until lifted"),
        }))
        .into()
    })
}

/// The spelling of an online user's name: on this node, or (in a
/// cluster) on another. In a cluster that cannot be reached, fails at
/// once, before anything is stored.
pub(super) fn online_name(ctx: &Ctx<'_>, dst: &str) -> Result<String, CmdError> {
    if let Some(peer) = ctx.state.users.get(dst) {
        return Ok(peer.name.to_string());
    }
    let cluster = ctx.state.cluster().ok_or_else(|| no_such_user(dst))?;
    let found = cluster.locate(dst).ok_or_else(|| no_such_user(dst))?;
    cluster.ensure_reachable()?;
    Ok(found.record.name)
}

/// The answer when a stored change could not be sent to the other nodes.
pub(super) fn told_nobody(name: &str, error: crate::cluster::ClusterError) -> Outcome {
    CmdError::new(
        chinwag_proto::ErrorCode::ClusterUnavailable,
        format!(
            "the change for {name} is stored, but the other nodes could not be told \
             (they learn it when they restart): {error}"
        ),
    )
    .into()
}

/// Records a mute and applies it if the user is on this node: the user is
/// told, and a timed mute is lifted when it runs out. What a node does for
/// a BANTALK, its own or another node's.
pub fn mute_by_name(state: &Arc<State>, key: NameKey, mute: Mute, secs: u32, now: Timestamp) {
    let until = mute.until;
    let notice_text = mute.reason.clone();
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
    victim.push(
        &Event::new(ServerFrame::Notice(Notice {
            kind: NoticeKind::Muted,
            ts: now,
            actor: admin.as_str().into(),
            subject: victim.name.as_str().into(),
            until: until.to_wire(),
            text: notice_text.into(),
        })),
        None,
    );
}

/// When a timed mute runs out, tell the user they may talk again (unless
/// the mute was replaced or lifted in the meantime). The stored row is
/// left to the next prune: deleting it here could race a newer mute.
pub fn schedule_expiry(state: Arc<State>, key: NameKey, until: MuteState, after: Duration) {
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
            peer.push(
                &Event::new(ServerFrame::Notice(Notice {
                    kind: NoticeKind::Unmuted,
                    ts: Timestamp::now(),
                    actor: "".into(),
                    subject: peer.name.as_str().into(),
                    until: 0,
                    text: "the mute ran out".into(),
                })),
                None,
            );
        }
    });
}
