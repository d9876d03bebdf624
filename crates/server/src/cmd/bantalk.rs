//! BANTALK: mute a user for a while, or until an administrator lifts it.
//! The mute is stored (with the audit entry, in one commit) before it takes
//! effect, so it survives reconnects and restarts.

use std::sync::Arc;
use std::time::Duration;

use chinwag_proto::request::Bantalk;
use chinwag_proto::server::{MuteState, Notice, NoticeKind, Timestamp};
use chinwag_proto::{NameKey, ServerFrame};

use super::{CmdError, Ctx, Outcome, check_reason, ends_after, format_remaining, later, target};
use crate::state::{Mute, State, encode_event};
use crate::store::{AuditAction, MuteRecord};

pub fn apply(req: Bantalk, ctx: &mut Ctx<'_>) -> Outcome {
    let admin = match ctx.me() {
        Ok(me) => me.name.clone(),
        Err(e) => return e.into(),
    };
    let victim = match check_reason(&req.reason, ctx).and_then(|()| target(ctx, &req.dst)) {
        Ok(victim) => victim,
        Err(e) => return e.into(),
    };
    let until = ends_after(req.duration_secs, ctx.now.wall);
    let key = victim.name.key();
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
            victim.name.as_str(),
            until.to_wire(),
            &req.reason,
        ),
    );
    later(false, write, move |written, ctx| {
        if let Err(error) = written {
            return CmdError::from(error).into();
        }
        ctx.state.mutes.set(
            key,
            Mute {
                until,
                by: admin.to_string(),
                reason: req.reason.to_string(),
            },
        );
        // The victim may have reconnected meanwhile: mute whoever has the
        // name now.
        let victim = ctx.state.users.get(victim.name.as_str()).unwrap_or(victim);
        victim.set_muted(until);
        let _ = victim
            .outbox
            .push(encode_event(&ServerFrame::Notice(Notice {
                kind: NoticeKind::Muted,
                ts: ctx.now.wall,
                actor: admin.as_str().into(),
                subject: victim.name.as_str().into(),
                until: until.to_wire(),
                text: req.reason.clone(),
            })));
        if req.duration_secs > 0 {
            schedule_expiry(
                Arc::clone(ctx.state),
                key,
                until,
                Duration::from_secs(req.duration_secs.into()),
            );
        }
        tracing::info!(target_user = %victim.name, secs = req.duration_secs, "muted");
        Ok(ServerFrame::ok(match until {
            MuteState::Until(end) => format!(
                "muted {} for {}",
                victim.name,
                format_remaining(end, ctx.now.wall)
            ),
            _ => format!("muted {} until lifted", victim.name),
        }))
        .into()
    })
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
