//! The delivery layer: what handlers and operations ask of the rest of the
//! server, beyond this node's own users, without knowing whether there is
//! any: deliver an event to a user who is not here, to a room's members
//! elsewhere, to everyone elsewhere; announce presence; send an order
//! (kick, mute, unmute, ban, unban, role, shutdown) to the other nodes;
//! find a user elsewhere, count and list the users there; claim a name
//! beyond this node; keep one state per room (hand every change of a
//! room to the other nodes, claim a new room's name, fetch the rooms'
//! state from the others at start-up).
//!
//! The core owns the [`Delivery`] trait. [`Local`] is a single node's:
//! nobody is elsewhere, so every call is a no-op that says "not there"
//! (or "nobody else"). In cluster mode the node delivers through the
//! cluster's implementation (`cluster::ClusterDelivery`, over NATS).
//! [`State::delivery`](crate::state::State::delivery) is the one in use.
//!
//! Local deliveries never go through this layer: handlers push to this
//! node's users themselves, and ask here only for what is beyond them.

use std::sync::Arc;

use chinwag_proto::server::{MuteState, Timestamp, UserInfo};
use chinwag_proto::{ErrorCode, NameKey, RoomKey, RoomName, UserName};
use futures::future::{self, BoxFuture};

use crate::error::{CmdError, no_such_user};
use crate::event::Shared;
use crate::secrets::SecretOutcome;
use crate::state::rooms::RoomChange;
use crate::state::{ConnId, Mute, Peer};
use crate::store::{BanRecord, BanTarget};

/// The rest of the server, as handlers see it.
pub trait Delivery: Send + Sync {
    /// Where a user who is not on this node is online, if anywhere.
    fn locate(&self, name: &str) -> Option<Elsewhere>;

    /// Fails at once when the rest of the server cannot be reached now,
    /// before anything is stored that it would have to learn.
    fn reachable(&self) -> Result<(), Unavailable>;

    /// The users elsewhere, as USER_LIST shows them.
    fn remote_users(&self, now: Timestamp, for_admin: bool) -> Vec<UserInfo>;

    /// How many users are online elsewhere.
    fn remote_count(&self) -> usize;

    /// How many users elsewhere a ban on `target` matches.
    fn matching(&self, target: &BanTarget) -> u32;

    /// Whether a name must be claimed beyond this node before it is used
    /// here (see [`Delivery::claim`]).
    fn claims_names(&self) -> bool;

    /// Claims a name for a user coming online here: of several nodes
    /// racing for it, exactly one gets it; an account that shares its
    /// sessions may also join its own claim on other nodes. Whether the
    /// user was online nowhere else before (`false`: the account's
    /// sessions elsewhere hold it too, and everyone saw it come already).
    fn claim(&self, claim: NameClaim) -> BoxFuture<'static, Result<bool, ClaimError>>;

    /// Frees a name claimed for `conn` (in the background). `departure`:
    /// a Left notice for an account, which may be online on other nodes
    /// still; it is given (to everyone) if this node turns out to be the
    /// last holding the account, and not otherwise.
    fn release(&self, name: NameKey, conn: ConnId, departure: Option<Departure>);

    /// Publishes a change of a local user's role or mute (in the
    /// background), for what others list: the role and mute `peer` has
    /// when the record is written.
    fn republish(&self, peer: &Arc<Peer>);

    /// Hands `event` to every session of a user elsewhere (on every node
    /// holding one): delivered if any took it.
    fn to_user(&self, to: &Elsewhere, event: &Shared) -> BoxFuture<'static, Handed>;

    /// Tells the node of an account online elsewhere that a message was
    /// put in its offline queue (its sender gave up on delivering it
    /// live), so that its sessions there fetch it. In the background; if
    /// that is lost, the account gets it at its next login.
    fn queued(&self, to: &Elsewhere);

    /// Hands a room's event to its online members elsewhere.
    fn to_room(&self, room: &RoomName, event: &Shared) -> Result<(), Unavailable>;

    /// Hands `event` to every user elsewhere; returns how many there are.
    fn to_all(&self, event: &Shared) -> Result<u32, Unavailable>;

    /// A join or leave notice about `subject`, for everyone elsewhere;
    /// dropped if they cannot be reached.
    fn presence(&self, event: &Shared, subject: &NameKey);

    /// Sends an order to every other node, each of which carries it out
    /// for its own users.
    fn order_all(&self, order: Order) -> Result<(), Unavailable>;

    /// Sends an order about a user elsewhere to where the user is, and
    /// waits until it is carried out.
    fn order(&self, to: &Elsewhere, order: Order) -> BoxFuture<'static, Handed>;

    /// Leaves the others on a clean shutdown.
    fn leave(&self) -> BoxFuture<'static, ()>;

    /// This node's id among the others (empty for a single node).
    fn node(&self) -> &str;

    /// Hands a change this node made to a room to the other nodes, in the
    /// order made (dropped if they cannot be reached: room commands check
    /// [`Delivery::reachable`] first).
    fn room_changed(&self, change: RoomChange);

    /// Claims the name of a room about to be created here: of several
    /// nodes racing to create one room, exactly one gets `true`; the
    /// others join the room it creates. The claim lasts a moment, long
    /// enough for every node to learn of the room.
    fn claim_room(&self, room: RoomKey) -> BoxFuture<'static, Result<bool, Unavailable>>;

    /// Lets go of the claim on a room's name (its last member left here).
    fn release_room(&self, room: RoomKey);

    /// What the other nodes hold of the rooms that this node cannot read
    /// from the store (their guests, the invitations), for a node that
    /// starts; they drop the guests this node had before.
    fn room_snapshot(&self) -> BoxFuture<'static, Vec<RoomChange>>;
}

/// A user online elsewhere (and maybe here too: an account's sessions
/// may sit on several nodes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Elsewhere {
    /// Where: node ids, as the implementation that found the user
    /// understands them; never this node.
    pub nodes: Vec<String>,
    /// The spelling the user chose.
    pub name: String,
    /// Logged in to an account (which has an offline queue), not a guest.
    pub account: bool,
    /// An account whose sessions accept more (REGISTER's multi-session
    /// option): it may log in here too.
    pub shared: bool,
    /// An administrator there (its role, or ADMIN in one of its
    /// sessions): a session of the account joining here is one too, as
    /// every session of an account is on one server.
    pub admin: bool,
}

/// A Left notice the delivery layer gives if the user left everywhere
/// (see [`Delivery::release`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Departure {
    pub name: UserName,
    /// Who put the user out, if anyone.
    pub actor: String,
    pub why: String,
}

/// What became of an event or an order for a user elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handed {
    Delivered,
    /// The user is not there (any more), or could not take it; why.
    NotThere(CmdError),
    /// The user's node could not be reached.
    Unavailable(Unavailable),
}

impl Handed {
    pub fn into_result(self) -> Result<(), CmdError> {
        match self {
            Handed::Delivered => Ok(()),
            Handed::NotThere(refused) => Err(refused),
            Handed::Unavailable(error) => Err(error.into()),
        }
    }
}

/// The rest of the server cannot be reached now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the cluster is unavailable: {0}")]
pub struct Unavailable(pub String);

impl From<Unavailable> for CmdError {
    fn from(Unavailable(why): Unavailable) -> CmdError {
        CmdError::new(
            ErrorCode::ClusterUnavailable,
            format!("the rest of the cluster cannot be reached now ({why}); try again later"),
        )
    }
}

/// Why a name claim failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimError {
    /// Someone elsewhere holds the name.
    Taken,
    Unavailable(Unavailable),
}

/// What a user coming online here shows the others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameClaim {
    pub name: UserName,
    /// The session claiming it.
    pub conn: ConnId,
    pub admin: bool,
    pub account: bool,
    /// The session shares the account with others (multi-session).
    pub shared: bool,
    pub muted: MuteState,
    pub addr: String,
    pub advertised: String,
    pub since: Timestamp,
}

/// An order for other nodes, about their users or themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Order {
    /// Put the user out.
    Kick {
        user: String,
        admin: String,
        reason: String,
        at: Timestamp,
    },
    /// Mute the user (each node keeps the mutes by name).
    Mute {
        user: String,
        mute: Mute,
        secs: u32,
        at: Timestamp,
    },
    /// Lift a mute.
    Unmute {
        user: String,
        admin: String,
        at: Timestamp,
    },
    /// Keep a name or an address out; disconnect whom it matches.
    Ban(BanRecord),
    /// Lift a ban.
    Unban(BanTarget),
    /// An account holder gained or lost the admin role.
    Role { user: String, admin: bool },
    /// Stop.
    Shutdown { admin: String, reason: String },
    /// A secret check's outcome, for the cluster-wide budgets.
    Secret(SecretOutcome),
    /// An account was created: every node knows the name is an account's,
    /// also while the database cannot be reached.
    Account(UserName),
}

/// A single node's delivery: nobody is elsewhere.
pub struct Local;

impl Delivery for Local {
    fn locate(&self, _name: &str) -> Option<Elsewhere> {
        None
    }

    fn reachable(&self) -> Result<(), Unavailable> {
        Ok(())
    }

    fn remote_users(&self, _now: Timestamp, _for_admin: bool) -> Vec<UserInfo> {
        Vec::new()
    }

    fn remote_count(&self) -> usize {
        0
    }

    fn matching(&self, _target: &BanTarget) -> u32 {
        0
    }

    fn claims_names(&self) -> bool {
        false
    }

    fn claim(&self, _claim: NameClaim) -> BoxFuture<'static, Result<bool, ClaimError>> {
        Box::pin(future::ready(Ok(true)))
    }

    fn release(&self, _name: NameKey, _conn: ConnId, _departure: Option<Departure>) {}

    fn republish(&self, _peer: &Arc<Peer>) {}

    fn to_user(&self, to: &Elsewhere, _event: &Shared) -> BoxFuture<'static, Handed> {
        not_here(to)
    }

    fn queued(&self, _to: &Elsewhere) {}

    fn to_room(&self, _room: &RoomName, _event: &Shared) -> Result<(), Unavailable> {
        Ok(())
    }

    fn to_all(&self, _event: &Shared) -> Result<u32, Unavailable> {
        Ok(0)
    }

    fn presence(&self, _event: &Shared, _subject: &NameKey) {}

    fn order_all(&self, _order: Order) -> Result<(), Unavailable> {
        Ok(())
    }

    fn order(&self, to: &Elsewhere, _order: Order) -> BoxFuture<'static, Handed> {
        not_here(to)
    }

    fn leave(&self) -> BoxFuture<'static, ()> {
        Box::pin(future::ready(()))
    }

    fn node(&self) -> &str {
        ""
    }

    fn room_changed(&self, _change: RoomChange) {}

    fn claim_room(&self, _room: RoomKey) -> BoxFuture<'static, Result<bool, Unavailable>> {
        Box::pin(future::ready(Ok(true)))
    }

    fn release_room(&self, _room: RoomKey) {}

    fn room_snapshot(&self) -> BoxFuture<'static, Vec<RoomChange>> {
        Box::pin(future::ready(Vec::new()))
    }
}

/// A single node's answer for a user elsewhere: there is no elsewhere.
fn not_here(to: &Elsewhere) -> BoxFuture<'static, Handed> {
    Box::pin(future::ready(Handed::NotThere(no_such_user(&to.name))))
}
