//! IRCv3 `draft/metadata-3` (METADATA) on the core's metadata
//! (METADATA_SET, METADATA_GET, METADATA_SUB): the subcommands turned into
//! requests, and their answers and the core's METADATA events rendered as
//! the numerics of the spec (760, 761, 766, 770-773, FAIL METADATA).

use chinwag_core::cmd::CmdError;
use chinwag_proto::request::{MetadataGet, MetadataSet, MetadataSub};
use chinwag_proto::server::Metadata;
use chinwag_proto::{ErrorCode, Request};

use crate::caps::Cap;
use crate::conn::{Irc, Pending};
use crate::line::Message;

/// The value `draft/metadata-3` is offered with (CAP LS 302).
pub const CAP_VALUE: &str = "max-subs=50,max-keys=20,max-value-bytes=300";

/// Which METADATA subcommand a request answers.
#[derive(Clone, Debug)]
pub enum MetaOp {
    /// GET (the first key, for a FAIL's context), LIST, CLEAR, SYNC: a
    /// `metadata` batch of 761/766.
    Get(String),
    List,
    Clear,
    Sync,
    /// SYNC, first step: the session's subscriptions.
    SyncSubs,
    /// SET of a key: 761 or 766, unbatched.
    Set(String),
    Sub(Vec<String>),
    Unsub(Vec<String>),
    Subs,
    /// The 760s of a WHOIS, then its end.
    Whois,
}

impl Irc {
    /// `METADATA <target> <subcommand> [params]`.
    pub(crate) fn metadata(&mut self, m: &Message) {
        if m.params.len() < 2 {
            self.fail("METADATA", "NEED_MORE_PARAMS", "", "Missing parameters");
            return;
        }
        let target = match m.param(0) {
            "*" => self.nick().to_owned(),
            target => target.to_owned(),
        };
        let rest: Vec<String> = m.params[2..].to_vec();
        let get = |target: &str, keys: Vec<String>| {
            Request::MetadataGet(MetadataGet {
                src: "".into(),
                target: target.into(),
                keys: keys.into_iter().map(Into::into).collect(),
            })
        };
        let sub = |add: &[String], remove: &[String]| {
            Request::MetadataSub(MetadataSub {
                src: "".into(),
                add: add.iter().map(|k| k.as_str().into()).collect(),
                remove: remove.iter().map(|k| k.as_str().into()).collect(),
            })
        };
        let set = |target: &str, key: &str, value: &str| {
            Request::MetadataSet(MetadataSet {
                src: "".into(),
                target: target.into(),
                key: key.into(),
                value: value.into(),
            })
        };
        let (request, op) = match m.param(1).to_ascii_uppercase().as_str() {
            "GET" if !rest.is_empty() => {
                let first = rest[0].clone();
                (get(&target, rest), MetaOp::Get(first))
            }
            "LIST" => (get(&target, Vec::new()), MetaOp::List),
            "SET" if !rest.is_empty() => {
                let key = rest[0].clone();
                let value = rest.get(1).map_or("", String::as_str);
                if key == "*" {
                    self.fail("METADATA", "KEY_INVALID", &key, "Invalid key");
                    return;
                }
                (set(&target, &key, value), MetaOp::Set(key))
            }
            "CLEAR" => (set(&target, "*", ""), MetaOp::Clear),
            "SUB" if !rest.is_empty() => (sub(&rest, &[]), MetaOp::Sub(rest)),
            "UNSUB" if !rest.is_empty() => (sub(&[], &rest), MetaOp::Unsub(rest)),
            "SUBS" => (sub(&[], &[]), MetaOp::Subs),
            "SYNC" => (sub(&[], &[]), MetaOp::SyncSubs),
            "GET" | "SET" | "SUB" | "UNSUB" => {
                self.fail("METADATA", "NEED_MORE_PARAMS", "", "Missing parameters");
                return;
            }
            other => {
                let other = other.to_owned();
                self.fail(
                    "METADATA",
                    "SUBCOMMAND_INVALID",
                    &other,
                    "Unknown subcommand",
                );
                return;
            }
        };
        self.ask(request, Pending::Metadata { target, op }, 0);
    }

    /// WHOIS `name`, after its 312/313: its metadata (760), then 318.
    pub(crate) fn whois_metadata(&mut self, name: &str) {
        if !self.caps.has(Cap::Metadata) {
            self.numeric("318", &[name, "End of /WHOIS list"]);
            return;
        }
        let request = Request::MetadataGet(MetadataGet {
            src: "".into(),
            target: name.into(),
            keys: Vec::new(),
        });
        let pending = Pending::Metadata {
            target: name.to_owned(),
            op: MetaOp::Whois,
        };
        self.ask(request, pending, 0);
    }

    /// 761 for a set key, 766 for an unset one.
    fn key_line(&mut self, target: &str, key: &str, value: &str, batch: Option<&str>) {
        let me = self.nick().to_owned();
        let mut line = match batch {
            Some(batch) => format!("@batch={batch} :{}", self.server),
            None => format!(":{}", self.server),
        };
        if value.is_empty() {
            line.push_str(" 766");
            crate::conn::push_params(&mut line, &[&me, target, key, "key not set"]);
        } else {
            line.push_str(" 761");
            crate::conn::push_params(&mut line, &[&me, target, key, "*", value]);
        }
        self.out.line(line);
    }

    pub(crate) fn metadata_reply(&mut self, target: String, op: MetaOp, m: Metadata) {
        let keys: Vec<String> = m.entries.iter().map(|e| e.key.to_string()).collect();
        match op {
            MetaOp::Get(_) | MetaOp::List | MetaOp::Clear | MetaOp::Sync => {
                let batch = self.caps.has(Cap::Batch).then(|| self.out.batch_id());
                if let Some(batch) = &batch {
                    self.server_line("BATCH", &[&format!("+{batch}"), "metadata", &m.target]);
                }
                for e in &m.entries {
                    self.key_line(&m.target, &e.key, &e.value, batch.as_deref());
                }
                if let Some(batch) = &batch {
                    self.server_line("BATCH", &[&format!("-{batch}")]);
                }
            }
            MetaOp::Set(_) => {
                for e in &m.entries {
                    self.key_line(&m.target, &e.key, &e.value, None);
                }
            }
            MetaOp::SyncSubs => {
                let request = Request::MetadataGet(MetadataGet {
                    src: "".into(),
                    target: target.as_str().into(),
                    keys: m.entries.iter().map(|e| e.key.clone()).collect(),
                });
                if keys.is_empty() {
                    // Nothing subscribed: nothing to sync.
                    let batch = self.caps.has(Cap::Batch).then(|| self.out.batch_id());
                    if let Some(batch) = &batch {
                        self.server_line("BATCH", &[&format!("+{batch}"), "metadata", &target]);
                        self.server_line("BATCH", &[&format!("-{batch}")]);
                    }
                    return;
                }
                self.ask(
                    request,
                    Pending::Metadata {
                        target,
                        op: MetaOp::Sync,
                    },
                    0,
                );
            }
            MetaOp::Sub(asked) => {
                let acked: Vec<&str> = asked
                    .iter()
                    .filter(|k| keys.contains(k))
                    .map(String::as_str)
                    .collect();
                self.numeric("770", &acked);
            }
            MetaOp::Unsub(asked) => {
                let acked: Vec<&str> = asked
                    .iter()
                    .filter(|k| !keys.contains(k))
                    .map(String::as_str)
                    .collect();
                self.numeric("771", &acked);
            }
            MetaOp::Subs => {
                for chunk in keys.chunks(10) {
                    let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
                    self.numeric("772", &chunk);
                }
                self.numeric("773", &["End of subscriptions"]);
            }
            MetaOp::Whois => {
                for e in &m.entries {
                    let value = e.value.to_string();
                    self.numeric("760", &[&m.target, &e.key, "*", &value]);
                }
                self.numeric("318", &[&target, "End of /WHOIS list"]);
            }
        }
    }

    pub(crate) fn metadata_error(&mut self, target: &str, op: MetaOp, error: &CmdError) {
        let key = match &op {
            MetaOp::Get(key) | MetaOp::Set(key) => key.clone(),
            MetaOp::Sub(keys) | MetaOp::Unsub(keys) => keys.first().cloned().unwrap_or_default(),
            _ => "*".to_owned(),
        };
        if let MetaOp::Whois = op {
            self.numeric("318", &[target, "End of /WHOIS list"]);
            return;
        }
        let message = error.message.to_string();
        match error.code {
            ErrorCode::NoSuchUser | ErrorCode::NoSuchRoom => {
                self.fail("METADATA", "INVALID_TARGET", target, &message)
            }
            ErrorCode::Forbidden
            | ErrorCode::NotRoomOperator
            | ErrorCode::NotAMember
            | ErrorCode::Muted => self.server_line(
                "FAIL",
                &["METADATA", "KEY_NO_PERMISSION", target, &key, &message],
            ),
            ErrorCode::InvalidContent => self.fail("METADATA", "INVALID_VALUE", &key, &message),
            ErrorCode::InvalidArgument if message.starts_with("at most") => {
                self.fail("METADATA", "LIMIT_REACHED", target, &message)
            }
            ErrorCode::InvalidArgument => self.fail("METADATA", "KEY_INVALID", &key, &message),
            _ => self.fail("METADATA", "INTERNAL_ERROR", target, &message),
        }
    }

    /// A change to metadata this session subscribed to.
    pub(crate) fn metadata_event(&mut self, m: &Metadata) {
        if !self.caps.has(Cap::Metadata) {
            return;
        }
        for e in &m.entries {
            self.key_line(&m.target, &e.key, &e.value, None);
        }
    }
}
