//! Kick: a user of this node is told why and disconnected, with every
//! session; everyone else is told it left.

use chinwag_proto::server::{Notice, NoticeKind, Timestamp};

use super::login::disconnect;
use crate::state::{Peer, State};

/// Kicks a user of this node; `false` if the user had already gone. What a
/// node does for a KICKOUT, its own or another node's.
pub fn kick(state: &State, victim: &Peer, admin: &str, reason: &str, now: Timestamp) -> bool {
    let reason = if reason.is_empty() {
        "no reason given"
    } else {
        reason
    };
    let kicked = disconnect(
        state,
        victim,
        Notice {
            kind: NoticeKind::Kicked,
            ts: now,
            actor: admin.into(),
            subject: victim.name.as_str().into(),
            until: 0,
            text: reason.into(),
        },
        format!("kicked by {admin}: {reason}"),
    );
    if kicked {
        tracing::info!(target_user = %victim.name, %reason, "kicked");
    }
    kicked
}
