//! BANTALK: mute a user for a while, or until an administrator lifts it.

use std::sync::Arc;
use std::time::Duration;

use chinwag_proto::request::Bantalk;
use chinwag_proto::server::{MuteState, Notice, NoticeKind, Timestamp};
use chinwag_proto::{NameKey, ServerFrame};

use super::{Ctx, Reply, check_reason, format_remaining, target};
use crate::state::{Mute, State, encode_event};

pub fn apply(req: Bantalk, ctx: &mut Ctx<'_>) -> Reply {
    let admin = ctx.me()?.name.clone();
    check_reason(&req.reason, ctx)?;
    let victim = target(ctx, &req.dst)?;
    let until = match req.duration_secs {
        0 => MuteState::UntilLifted,
        secs => MuteState::Until(Timestamp(
            ctx.now.wall.0.saturating_add(u64::from(secs) * 1000),
        )),
    };
    let key = victim.name.key();
    ctx.state.mutes.set(
        key,
        Mute {
            until,
            by: admin.to_string(),
            reason: req.reason.to_string(),
        },
    );
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
