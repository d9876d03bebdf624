//! Role changes: an account holder online here gains or loses the admin
//! role at once (the store has it already).

use crate::state::State;

/// Gives or takes the role of an account holder on this node. What a node
/// does for a GRANT or REVOKE, its own or another node's.
pub fn set_role(state: &State, name: &str, admin: bool) {
    if let Some(peer) = state.users.get(name)
        && peer.account
    {
        peer.set_admin(admin);
        state.delivery().republish(&peer);
    }
}
