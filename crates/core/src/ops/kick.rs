//! Kick: a user of this node is told why and disconnected, with every
//! session; everyone else is told it left, once (by the node that
//! ordered the kick when the user was on several nodes).

use chinwag_proto::server::{Notice, NoticeKind, Timestamp};

use super::login::{Tell, disconnect, left};
use crate::state::{Peer, State};

/// Kicks a user of this node; `false` if the user had already gone. What a
/// node does for a KICKOUT, its own (`tell`: [`Tell::UnlessElsewhere`],
/// or [`Tell::Nobody`] when it also kicks the user on other nodes and
/// tells everyone itself, see [`kicked`]) or another node's
/// ([`Tell::Nobody`]: the node that ordered it tells).
pub fn kick(
    state: &State,
    victim: &Peer,
    admin: &str,
    reason: &str,
    now: Timestamp,
    tell: Tell,
) -> bool {
    let reason = reason_given(reason);
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
        left_text(admin, reason),
        tell,
    );
    if kicked {
        tracing::info!(target_user = %victim.name, %reason, "kicked");
    }
    kicked
}

/// Tells everyone that `name`, kicked on other nodes (and maybe here), left.
pub fn kicked(
    state: &State,
    name: &chinwag_proto::UserName,
    admin: &str,
    reason: &str,
    now: Timestamp,
) {
    left(
        state,
        name,
        admin,
        now,
        &left_text(admin, reason_given(reason)),
    );
}

fn reason_given(reason: &str) -> &str {
    if reason.is_empty() {
        "no reason given"
    } else {
        reason
    }
}

fn left_text(admin: &str, reason: &str) -> String {
    format!("kicked by {admin}: {reason}")
}
