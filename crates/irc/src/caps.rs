//! IRCv3 capabilities: which ones chinwag offers, and which a connection
//! has enabled.

/// One capability this server offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    AccountNotify,
    AccountTag,
    AwayNotify,
    Batch,
    CapNotify,
    EchoMessage,
    ExtendedJoin,
    ExtendedMonitor,
    InviteNotify,
    LabeledResponse,
    MessageRedaction,
    MessageTags,
    Metadata,
    MultiPrefix,
    ReadMarker,
    Sasl,
    ServerTime,
    Setname,
    UserhostInNames,
}

impl Cap {
    /// Every capability offered, in the order CAP LS lists them.
    pub const ALL: [Cap; 19] = [
        Cap::AccountNotify,
        Cap::AccountTag,
        Cap::AwayNotify,
        Cap::Batch,
        Cap::CapNotify,
        Cap::EchoMessage,
        Cap::ExtendedJoin,
        Cap::ExtendedMonitor,
        Cap::InviteNotify,
        Cap::LabeledResponse,
        Cap::MessageRedaction,
        Cap::MessageTags,
        Cap::Metadata,
        Cap::MultiPrefix,
        Cap::ReadMarker,
        Cap::Sasl,
        Cap::ServerTime,
        Cap::Setname,
        Cap::UserhostInNames,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cap::AccountNotify => "account-notify",
            Cap::AccountTag => "account-tag",
            Cap::AwayNotify => "away-notify",
            Cap::Batch => "batch",
            Cap::CapNotify => "cap-notify",
            Cap::EchoMessage => "echo-message",
            Cap::ExtendedJoin => "extended-join",
            Cap::ExtendedMonitor => "extended-monitor",
            Cap::InviteNotify => "invite-notify",
            Cap::LabeledResponse => "labeled-response",
            Cap::MessageRedaction => "draft/message-redaction",
            Cap::MessageTags => "message-tags",
            Cap::Metadata => "draft/metadata-3",
            Cap::MultiPrefix => "multi-prefix",
            Cap::ReadMarker => "draft/read-marker",
            Cap::Sasl => "sasl",
            Cap::ServerTime => "server-time",
            Cap::Setname => "setname",
            Cap::UserhostInNames => "userhost-in-names",
        }
    }

    /// The value CAP LS 302 gives it, if any.
    fn value(self) -> Option<&'static str> {
        match self {
            Cap::Sasl => Some("PLAIN"),
            Cap::Metadata => Some(crate::metadata::CAP_VALUE),
            _ => None,
        }
    }

    pub fn from_name(name: &str) -> Option<Cap> {
        Cap::ALL.into_iter().find(|c| c.name() == name)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// The capabilities a connection has enabled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps(u32);

impl Caps {
    pub fn has(self, cap: Cap) -> bool {
        self.0 & cap.bit() != 0
    }

    pub fn set(&mut self, cap: Cap, on: bool) {
        if on {
            self.0 |= cap.bit();
        } else {
            self.0 &= !cap.bit();
        }
    }

    /// The enabled capabilities' names, space-separated.
    pub fn names(self) -> String {
        Cap::ALL
            .into_iter()
            .filter(|c| self.has(*c))
            .map(Cap::name)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The CAP LS list: with values from version 302 on.
pub fn listing(version: u32) -> String {
    Cap::ALL
        .into_iter()
        .map(|cap| match cap.value() {
            Some(value) if version >= 302 => format!("{}={value}", cap.name()),
            _ => cap.name().to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What CAP REQ asks for: each capability on (no `-`) or off; `None` if
/// any of them is not offered (the whole request is then refused).
pub fn parse_request(request: &str) -> Option<Vec<(Cap, bool)>> {
    request
        .split(' ')
        .filter(|c| !c.is_empty())
        .map(|c| match c.strip_prefix('-') {
            Some(name) => Cap::from_name(name).map(|cap| (cap, false)),
            None => Cap::from_name(c).map(|cap| (cap, true)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_all_or_nothing() {
        assert_eq!(
            parse_request("echo-message -batch"),
            Some(vec![(Cap::EchoMessage, true), (Cap::Batch, false)])
        );
        assert_eq!(parse_request("echo-message foo"), None);
        let mut caps = Caps::default();
        caps.set(Cap::Sasl, true);
        caps.set(Cap::Batch, true);
        assert_eq!(caps.names(), "batch sasl");
        assert!(listing(302).contains("sasl=PLAIN"));
        assert!(listing(0).contains("sasl "));
    }
}
