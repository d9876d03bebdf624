//! Bans: a name or an address kept out (the store has the ban already).
//! Whoever it matches online here is disconnected, with every session.

use chinwag_proto::server::{Notice, NoticeKind, Timestamp};

use super::login::{Tell, disconnect};
use crate::state::{ConnId, State};
use crate::store::{BanRecord, BanTarget};

/// Records a ban and disconnects the users of this node it matches, with
/// every session (except the user online as `spare`, a [`Peer::id`]: the
/// administrator banning its own address); returns how many. What a node
/// does for a BAN, its own or another node's.
///
/// [`Peer::id`]: crate::state::Peer::id
pub fn ban(state: &State, ban: BanRecord, spare: Option<ConnId>, now: Timestamp) -> u32 {
    let victims = state.users.find(|peer| {
        Some(peer.id) != spare
            && match &ban.target {
                BanTarget::Name(key) => peer.name.key() == *key,
                BanTarget::Addr(addr) => peer
                    .sessions()
                    .iter()
                    .any(|link| link.addr.ip().to_canonical() == *addr),
            }
    });
    let reason = if ban.reason.is_empty() {
        "no reason given".to_owned()
    } else {
        ban.reason.clone()
    };
    let (admin, until) = (ban.by.clone(), ban.until);
    state.bans.set(ban);
    let mut disconnected = 0;
    for victim in victims {
        let notice = Notice {
            kind: NoticeKind::Banned,
            ts: now,
            actor: admin.as_str().into(),
            subject: victim.name.as_str().into(),
            until: until.to_wire(),
            text: reason.as_str().into(),
        };
        if disconnect(
            state,
            &victim,
            notice,
            format!("banned by {admin}: {reason}"),
            Tell::UnlessElsewhere,
        ) {
            disconnected += 1;
        }
    }
    disconnected
}
