//! Mutes: who may not talk. Kept by name, so a mute outlives the
//! connection it was placed on (the store has it already); a user online
//! here learns of it at once, and of its end.

use std::sync::Arc;
use std::time::Duration;

use chinwag_proto::server::{MuteState, Notice, NoticeKind, Timestamp};
use chinwag_proto::{NameKey, ServerFrame};

use crate::event::Event;
use crate::state::{Mute, State};

/// Records a mute and applies it if the user is on this node: the user is
/// told, and a timed mute is lifted when it runs out. What a node does for
/// a BANTALK, its own or another node's.
pub fn mute(state: &Arc<State>, key: NameKey, mute: Mute, secs: u32, now: Timestamp) {
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
    state.delivery().republish(&victim);
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
            state.delivery().republish(&peer);
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

/// Lifts a mute and tells the user if the user is on this node. What a
/// node does for an UNMUTE, its own or another node's.
pub fn unmute(state: &Arc<State>, key: NameKey, admin: &str, now: Timestamp) {
    state.mutes.lift(&key, now);
    let Some(peer) = state.users.get(key.as_str()) else {
        return;
    };
    peer.set_muted(MuteState::NotMuted);
    state.delivery().republish(&peer);
    peer.push(
        &Event::new(ServerFrame::Notice(Notice {
            kind: NoticeKind::Unmuted,
            ts: now,
            actor: admin.into(),
            subject: peer.name.as_str().into(),
            until: 0,
            text: "".into(),
        })),
        None,
    );
}
