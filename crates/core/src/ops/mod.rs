//! The domain operations: what happens to the server when a user logs in
//! or leaves, is kicked, muted, banned or given a role, whoever asked for
//! it. The router's handlers (`cmd`) call them for this node's requests,
//! and the cluster (`cluster::inbound`) for the other nodes' orders, so
//! that both do the same thing and neither imports the other.
//!
//! - [`login`]: a user comes online, and goes (by itself, or made to).
//! - [`kick`]: a user is put out.
//! - [`mute`]: a user may not talk, for a while or until lifted.
//! - [`ban`]: a name or an address is kept out.
//! - [`role`]: an account holder gains or loses the admin role.
//! - [`rooms`]: what the room operations share: their notices, and what
//!   a user's departure does to its rooms.
//! - [`users`]: a user's change of profile, flags or name, as others are
//!   told of it.

pub mod ban;
pub mod kick;
pub mod login;
pub mod mute;
pub mod role;
pub mod rooms;
pub mod users;
