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
use crate::delivery::Departure;
use crate::error::CmdError;
use crate::event::Event;
use crate::state::users::UserProfile;
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
    /// The account was online on other nodes already (its claim joined
    /// theirs): everyone saw it come then.
    pub online_elsewhere: bool,
    /// A PROFILE the session sent before REGISTER, if any.
    pub profile: Option<UserProfile>,
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
        online_elsewhere,
        profile,
    } = login;
    let conn = link.conn;
    let fresh = Peer::new(name.clone(), link)
        .with_account(account)
        .with_account_since(account_since)
        .with_ignoring(ignoring)
        .with_metadata(metadata)
        .with_profile(profile.clone().unwrap_or_default());
    let claimed = match state.users.claim(fresh) {
        Ok(claimed) => claimed,
        Err(_) => {
            if claimed_elsewhere {
                state.delivery().release(name.key(), conn, None);
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
    // Role holders are administrators from login on; so is a session
    // joining an account that is one on other nodes (its role, or ADMIN
    // in a session there): one user, one role, as on one server.
    let elevated_elsewhere = || {
        state
            .delivery()
            .locate(name.as_str())
            .is_some_and(|there| there.account && there.admin)
    };
    if admin || (peer.account && online_elsewhere && elevated_elsewhere()) {
        peer.set_admin(true);
    }
    let muted = if first {
        // Claim first, then read the mute: see state::mutes for why this
        // order.
        let muted = state.mutes.get(&name.key(), now);
        if muted != MuteState::NotMuted && profile.is_some() {
            // A muted user shows others no text of its own.
            peer.set_profile(UserProfile::default());
        }
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
    // Others see the user come online once, with its first session
    // anywhere.
    if first && !online_elsewhere {
        announce(
            state,
            &name,
            NoticeKind::Joined,
            "",
            now,
            "",
            u64::from(peer.flags()),
        );
    } else if let Some(profile) = profile
        && muted == MuteState::NotMuted
    {
        // Another session of an account online: its profile is the
        // user's now.
        let changed = super::users::changes(&peer.profile(), &profile);
        peer.set_profile(profile);
        if changed != 0 {
            let event = super::users::update(&peer, changed, "", now);
            super::users::tell_change(state, &peer, &event, Some(conn));
        }
    }
    Ok(Online { peer, first, muted })
}

/// Who tells everyone that a user left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tell {
    /// This node, once the user is online nowhere else: at once for a
    /// guest (or on a single node); for an account whose name is claimed
    /// beyond this node, which may be online on other nodes still, when
    /// its claim here is let go and no other node holds it (see
    /// [`crate::delivery::Delivery::release`]).
    UnlessElsewhere,
    /// Not this node: the one that ordered the kick tells, once for all
    /// the nodes the user was on; or nobody at all (a shutdown).
    Nobody,
}

/// Session `conn` of `peer` ended; when it was the user's last here,
/// frees the name and tells the others it left (unless it is online on
/// other nodes still, or the shutdown took care of that).
pub fn depart(state: &State, peer: &Peer, conn: ConnId, why: &str) {
    if state.users.release(&peer.name, peer.id, conn) != Released::Last {
        return;
    }
    let tell = if state.shutdown.is_started() {
        Tell::Nobody
    } else {
        Tell::UnlessElsewhere
    };
    offline(state, peer, ("", Timestamp::now()), why, tell);
}

/// A user of another node that stopped without saying goodbye (its names
/// were reaped here): everyone is told it left, once, by the node that
/// freed the name.
pub fn gone_with_its_node(state: &State, name: &UserName) {
    left(state, name, "", Timestamp::now(), "its server node stopped");
}

/// Tells everyone that `name` left (`actor`: who put it out, if anyone),
/// for a node that knows it is the one to tell (see [`Tell`]).
pub fn left(state: &State, name: &UserName, actor: &str, ts: Timestamp, why: &str) {
    announce(state, name, NoticeKind::Left, actor, ts, why, 0);
}

/// Disconnects an online user with every session here: each gets
/// `notice` as its last event, the user's rooms and name claim are let
/// go, and everyone else gets a Left notice with `left_text` as `tell`
/// says. Returns `false` if the user had already gone.
pub fn disconnect(
    state: &State,
    victim: &Peer,
    notice: Notice,
    left_text: String,
    tell: Tell,
) -> bool {
    // Taking the name here, not in the victim's sessions, means that their
    // next frames (already in flight) find they are no longer registered,
    // and that the leave notice carries the reason.
    if !state.users.remove(&victim.name, victim.id) {
        return false;
    }
    let actor = notice.actor.clone();
    let ts = notice.ts;
    victim.close_all(&Event::new(ServerFrame::Notice(notice)));
    offline(state, victim, (&actor, ts), &left_text, tell);
    true
}

/// A user whose name was freed here: its rooms and its claim beyond this
/// node go, and everyone is told it left as `tell` says.
fn offline(state: &State, peer: &Peer, (actor, ts): (&str, Timestamp), why: &str, tell: Tell) {
    state.whowas.record(peer, Timestamp::now());
    rooms::disconnected(state, peer, why);
    // Whether an account left everywhere is known once its claim here is
    // let go: the delivery layer tells then, if no other node holds it.
    // Cut off from the others, this node tells its own users at once.
    let delivery = state.delivery();
    let deferred = tell == Tell::UnlessElsewhere
        && peer.account
        && delivery.claims_names()
        && delivery.reachable().is_ok();
    let departure = deferred.then(|| Departure {
        name: peer.name.clone(),
        actor: actor.to_owned(),
        why: why.to_owned(),
    });
    delivery.release(peer.name.key(), peer.id, departure);
    if tell == Tell::UnlessElsewhere && !deferred {
        left(state, &peer.name, actor, ts, why);
    }
}

/// Tells everyone else that `subject` came (Joined, `until` its user
/// flags) or went (Left).
fn announce(
    state: &State,
    subject: &UserName,
    kind: NoticeKind,
    actor: &str,
    ts: Timestamp,
    text: &str,
    until: u64,
) {
    state.announce_presence(
        ServerFrame::Notice(Notice {
            kind,
            ts,
            actor: actor.into(),
            subject: subject.as_str().into(),
            until,
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
