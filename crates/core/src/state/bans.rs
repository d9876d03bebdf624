//! Bans, kept in memory for the check at every REGISTER and written
//! through to the store (which is authoritative across restarts: the map
//! is loaded from it at start-up).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chinwag_proto::NameKey;
use chinwag_proto::server::{MuteState, Timestamp};

use crate::store::{BanRecord, BanTarget};

#[derive(Default)]
pub struct Bans {
    by_target: Mutex<HashMap<BanTarget, BanRecord>>,
}

impl Bans {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BanTarget, BanRecord>> {
        self.by_target.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set(&self, ban: BanRecord) {
        self.lock().insert(ban.target.clone(), ban);
    }

    pub fn lift(&self, target: &BanTarget) -> bool {
        self.lock().remove(target).is_some()
    }

    /// The ban in force at `now` on `target`, if any.
    pub fn get(&self, target: &BanTarget, now: Timestamp) -> Option<BanRecord> {
        self.lock()
            .get(target)
            .filter(|ban| ban.until.at(now) != MuteState::NotMuted)
            .cloned()
    }

    /// The ban that keeps this name or address out at `now`, if any.
    pub fn keeps_out(&self, name: &NameKey, addr: IpAddr, now: Timestamp) -> Option<BanRecord> {
        self.get(&BanTarget::Name(*name), now)
            .or_else(|| self.get(&BanTarget::Addr(addr.to_canonical()), now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(target: BanTarget, until: MuteState) -> BanRecord {
        BanRecord {
            target,
            until,
            by: "root".into(),
            reason: "spam".into(),
            at: Timestamp(0),
        }
    }

    #[test]
    fn names_and_addresses_until_the_end() {
        let bans = Bans::default();
        let bob = NameKey::fold("Bob").unwrap();
        let addr: IpAddr = "10.0.0.9".parse().unwrap();
        bans.set(ban(BanTarget::Name(bob), MuteState::Until(Timestamp(100))));
        assert!(bans.keeps_out(&bob, addr, Timestamp(99)).is_some());
        assert!(
            bans.keeps_out(&bob, addr, Timestamp(100)).is_none(),
            "ran out"
        );
        let carol = NameKey::fold("carol").unwrap();
        bans.set(ban(BanTarget::Addr(addr), MuteState::UntilLifted));
        assert!(bans.keeps_out(&carol, addr, Timestamp(1_000)).is_some());
        // An IPv4 client seen through an IPv6 socket is the same address.
        let mapped: IpAddr = "::ffff:10.0.0.9".parse().unwrap();
        assert!(bans.keeps_out(&carol, mapped, Timestamp(1_000)).is_some());
        assert!(bans.lift(&BanTarget::Addr(addr)));
        assert!(bans.keeps_out(&carol, addr, Timestamp(1_000)).is_none());
    }
}
