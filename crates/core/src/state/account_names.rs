//! The names of the accounts, in memory: whether a name is an account's,
//! or looks like one, known without asking the database, so that a guest
//! can register while the database cannot be reached.
//!
//! Read from the store at start-up; an account created here is added at
//! once, one created on another node when its order arrives. A shared
//! database (PostgreSQL) stays the authority: REGISTER asks it first,
//! and turns here only when it fails; the embedded one, which this
//! process alone writes, is not asked for a guest at all (see
//! `cmd::register`).

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use chinwag_proto::{NameKey, UserName};

/// What the account names say about a name a guest wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Known {
    /// An account's name.
    Account,
    /// No account's, but it looks like this account's name.
    LooksLike(String),
    /// Nobody's.
    Free,
}

#[derive(Default)]
pub struct AccountNames {
    /// Read on every guest REGISTER while the database is away, written
    /// when an account is created: a plain lock, never held across an
    /// `.await`.
    names: RwLock<Names>,
}

#[derive(Default)]
struct Names {
    keys: HashSet<NameKey>,
    /// Confusable skeleton to the name as spelled.
    skeletons: HashMap<String, String>,
}

impl AccountNames {
    /// Adds an account's name.
    pub fn insert(&self, name: &UserName) {
        let key = name.key();
        let mut names = self.names.write().unwrap_or_else(|p| p.into_inner());
        if names.keys.insert(key) {
            names
                .skeletons
                .entry(key.skeleton())
                .or_insert_with(|| name.to_string());
        }
    }

    /// Whether `name` is an account's, looks like one, or is free.
    pub fn known(&self, name: &UserName) -> Known {
        let key = name.key();
        let names = self.names.read().unwrap_or_else(|p| p.into_inner());
        if names.keys.contains(&key) {
            return Known::Account;
        }
        match names.skeletons.get(&key.skeleton()) {
            Some(existing) => Known::LooksLike(existing.clone()),
            None => Known::Free,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> UserName {
        UserName::parse(text).unwrap()
    }

    #[test]
    fn accounts_and_their_lookalikes_are_known() {
        let names = AccountNames::default();
        assert_eq!(names.known(&name("alice")), Known::Free);
        names.insert(&name("Alice"));
        names.insert(&name("ALICE"));
        assert_eq!(names.known(&name("aLiCe")), Known::Account);
        // A Cyrillic а in place of the Latin a.
        assert_eq!(
            names.known(&name("\u{430}lice")),
            Known::LooksLike("Alice".into())
        );
        assert_eq!(names.known(&name("bob")), Known::Free);
    }
}
