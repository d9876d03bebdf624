//! Node ids: how the nodes of a cluster tell each other apart.

use std::fmt;

/// The id of one `chinwagd` in a cluster: 1 to 32 ASCII letters, digits,
/// `_` and `-`, so that it can be part of a NATS subject and a key-value
/// key as it is. Given with `--node-id`, or generated at start-up.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(String);

/// Why a string is not a valid node id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a node id is 1 to 32 ASCII letters, digits, '_' and '-'; {0:?} is not")]
pub struct BadNodeId(pub String);

impl NodeId {
    pub const MAX_LEN: usize = 32;

    pub fn parse(id: &str) -> Result<NodeId, BadNodeId> {
        let valid = !id.is_empty()
            && id.len() <= NodeId::MAX_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Ok(NodeId(id.to_owned()))
        } else {
            Err(BadNodeId(id.to_owned()))
        }
    }

    /// A fresh random id, `n-` and 12 hex digits: unique enough for the
    /// few nodes of one cluster, short enough to read in a log.
    pub fn generate() -> NodeId {
        NodeId(format!("n-{:012x}", rand::random::<u64>() >> 16))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid_ids() {
        assert_eq!(NodeId::parse("node-1").unwrap().as_str(), "node-1");
        assert!(NodeId::parse("").is_err());
        assert!(NodeId::parse("a.b").is_err(), "a dot would split a subject");
        assert!(NodeId::parse("a b").is_err());
        assert!(NodeId::parse(&"x".repeat(33)).is_err());
        let generated = NodeId::generate();
        assert_eq!(NodeId::parse(generated.as_str()), Ok(generated.clone()));
        assert_ne!(generated, NodeId::generate());
    }
}
