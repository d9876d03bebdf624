//! Login and departure, as a pair: a user comes online with its first
//! session (or adds one to an account online already), and goes with its
//! last one, or all at once when it is kicked or banned. Everyone else
//! sees it come once and go once.

use std::sync::Arc;
use std::time::Duration;

use chinwag_proto::server::{MuteState, Notice, NoticeKind, Timestamp};
use chinwag_proto::{ErrorCode, ServerFrame, UserName};

use super::mute::schedule_expiry;
use super::rooms;
use crate::error::CmdError;
use crate::event::Event;
use crate::state::{Claimed, ConnId, Link, Peer, Released, State};

/// A login that passed every check (and, with a password, the store).
pub struct Login {
    pub name: UserName,
    /// The session logging in.
    pub link: Arc<Link>,
    /// Logged in to an account, not as a guest.
    pub account: bool,
    /// The account holds the admin role.
    pub admin: bool,
    /// When the account was created (0 for a guest): its direct messages
    /// begin there.
    pub account_since: Timestamp,
    /// Whom the account ignores (see IGNORE).
    pub ignoring: Vec<UserName>,
    /// The account's metadata (see METADATA_SET).
    pub metadata: Vec<(String, String)>,
    /// The name was claimed beyond this node for this session (see
    /// [`crate::delivery::Delivery::claim`]); a session joining an account
    /// online here shares its first session's claim.
    pub claimed_elsewhere: bool,
}

/// The user online after a login.
pub struct Online {
    pub peer: Arc<Peer>,
    /// This session brought the user online (it was not online before).
    pub first: bool,
    /// The mute in force.
    pub muted: MuteState,
}

/// Brings the user online with this session, or adds this session to the
/// account online already, and tells everyone of a user who came online.
pub fn login(state: &Arc<State>, login: Login, now: Timestamp) -> Result<Online, CmdError> {
    let Login {
        name,
        link,
        account,
        admin,
        account_since,
        ignoring,
        metadata,
        claimed_elsewhere,
    } = login;
    let conn = link.conn;
    let fresh = Peer::new(name.clone(), link)
        .with_account(account)
        .with_account_since(account_since)
        .with_ignoring(ignoring)
        .with_metadata(metadata);
    let claimed = match state.users.claim(fresh) {
        Ok(claimed) => claimed,
        Err(_) => {
            if claimed_elsewhere {
                state.delivery().release(name.key(), conn);
            }
            return Err(name_taken(&name));
        }
    };
    let first = matches!(claimed, Claimed::First(_));
    if first && state.delivery().claims_names() && !claimed_elsewhere {
        // The account's other session left while this login was checked,
        // and with it the claim this session meant to share.
        state.users.release(&name, conn, conn);
        return Err(CmdError::new(
            ErrorCode::ClusterUnavailable,
            format!("{name}'s other session left just now; log in again"),
        ));
    }
    let peer = Arc::clone(claimed.peer());
    // Role holders are administrators from login on.
    if admin {
        peer.set_admin(true);
    }
    let muted = if first {
        // Claim first, then read the mute: see state::mutes for why this
        // order.
        let muted = state.mutes.get(&name.key(), now);
        peer.set_muted(muted);
        if let MuteState::Until(end) = muted {
            let left = Duration::from_millis(end.0.saturating_sub(now.0));
            schedule_expiry(Arc::clone(state), name.key(), muted, left);
        }
        muted
    } else {
        peer.muted(now)
    };
    if account && first {
        // An account's rooms outlive its connections: reach it there again.
        state.rooms.attach(&peer);
    }
    // Others see the user come online once, with its first session.
    if first {
        announce(state, &name, NoticeKind::Joined, "", now, "");
    }
    Ok(Online { peer, first, muted })
}

/// Session `conn` of `peer` ended; when it was the user's last, frees the
/// name and tells the others (unless a kick or the shutdown already took
/// care of that).
pub fn depart(state: &State, peer: &Peer, conn: ConnId, why: &str) {
    if state.users.release(&peer.name, peer.id, conn) != Released::Last {
        return;
    }
    offline(state, peer, why);
    if !state.shutdown.is_started() {
        announce(
            state,
            &peer.name,
            NoticeKind::Left,
            "",
            Timestamp::now(),
            why,
        );
    }
}

/// A user of another node that stopped without saying goodbye (its names
/// were reaped here): everyone is told it left, once, by the node that
/// freed the name.
pub fn gone_with_its_node(state: &State, name: &UserName) {
    announce(
        state,
        name,
        NoticeKind::Left,
        "",
        Timestamp::now(),
        "its server node stopped",
    );
}

/// Disconnects an online user with every session: each gets `notice` as
/// its last event, the user's rooms and name claim are let go, and
/// everyone else gets a Left notice with `left_text`. Returns `false` if
/// the user had already gone.
pub fn disconnect(state: &State, victim: &Peer, notice: Notice, left_text: String) -> bool {
    // Taking the name here, not in the victim's sessions, means that their
    // next frames (already in flight) find they are no longer registered,
    // and that the leave notice carries the reason.
    if !state.users.remove(&victim.name, victim.id) {
        return false;
    }
    let actor = notice.actor.clone();
    let ts = notice.ts;
    victim.close_all(&Event::new(ServerFrame::Notice(notice)));
    offline(state, victim, &left_text);
    announce(
        state,
        &victim.name,
        NoticeKind::Left,
        &actor,
        ts,
        &left_text,
    );
    true
}

/// A user whose name was freed here: its rooms and its claim beyond this
/// node go.
fn offline(state: &State, peer: &Peer, why: &str) {
    rooms::disconnected(state, peer, why);
    state.delivery().release(peer.name.key(), peer.id);
}

/// Tells everyone else that `subject` came (Joined) or went (Left).
fn announce(
    state: &State,
    subject: &UserName,
    kind: NoticeKind,
    actor: &str,
    ts: Timestamp,
    text: &str,
) {
    state.announce_presence(
        ServerFrame::Notice(Notice {
            kind,
            ts,
            actor: actor.into(),
            subject: subject.as_str().into(),
            until: 0,
            text: text.into(),
        }),
        &subject.key(),
    );
}

/// The error for a name someone online has.
pub fn name_taken(name: &UserName) -> CmdError {
    CmdError::new(
        ErrorCode::NameTaken,
        format!("the name {name} is taken by someone online"),
    )
}
