//! The delivery layer: what handlers and operations ask of the rest of the
//! server, beyond this node's own users, without knowing whether there is
//! any: deliver an event to a user who is not here, to a room's members
//! elsewhere, to everyone elsewhere; announce presence; send an order
//! (kick, mute, unmute, ban, unban, role, shutdown) to the other nodes;
//! find a user elsewhere, count and list the users there; claim a name
//! beyond this node.
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
use chinwag_proto::{ErrorCode, NameKey, RoomName, UserName};
use futures::future::{self, BoxFuture};

use crate::error::{CmdError, no_such_user};
use crate::event::Shared;
use crate::secrets::SecretOutcome;
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
    /// racing for it, exactly one gets it.
    fn claim(&self, claim: NameClaim) -> BoxFuture<'static, Result<(), ClaimError>>;

    /// Frees a name claimed for `conn` (in the background).
    fn release(&self, name: NameKey, conn: ConnId);

    /// Publishes a change of a local user's role or mute (in the
    /// background), for what others list: the role and mute `peer` has
    /// when the record is written.
    fn republish(&self, peer: &Arc<Peer>);

    /// Hands `event` to every session of a user elsewhere.
    fn to_user(&self, to: &Elsewhere, event: &Shared) -> BoxFuture<'static, Handed>;

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
}

/// A user online elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Elsewhere {
    /// Where: a node id, as the implementation that found the user
    /// understands it.
    pub node: String,
    /// The spelling the user chose.
    pub name: String,
    /// Logged in to an account (which has an offline queue), not a guest.
    pub account: bool,
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

    fn claim(&self, _claim: NameClaim) -> BoxFuture<'static, Result<(), ClaimError>> {
        Box::pin(future::ready(Ok(())))
    }

    fn release(&self, _name: NameKey, _conn: ConnId) {}

    fn republish(&self, _peer: &Arc<Peer>) {}

    fn to_user(&self, to: &Elsewhere, _event: &Shared) -> BoxFuture<'static, Handed> {
        not_here(to)
    }

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
}

/// A single node's answer for a user elsewhere: there is no elsewhere.
fn not_here(to: &Elsewhere) -> BoxFuture<'static, Handed> {
    Box::pin(future::ready(Handed::NotThere(no_such_user(&to.name))))
}
