//! Size limits of protocol version 1.

/// The longest name, in bytes.
pub const MAX_NAME_LEN: usize = 32;

/// The most any string field can hold: its length prefix is a `u16`.
pub const MAX_FIELD_LEN: usize = u16::MAX as usize;

/// The largest frame a client accepts from a server. Server frames can be
/// large (a user list on a busy server), so the client is generous here; the
/// server's own limit on what it accepts is [`Limits::max_frame`].
pub const MAX_SERVER_FRAME: u32 = 16 * 1024 * 1024;

/// The limits a server enforces, announced to clients in WELCOME.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest `length` value accepted in a frame the client sends.
    pub max_frame: u32,
    /// Longest name, in bytes.
    pub max_name: u16,
    /// Longest message text, in bytes of UTF-8.
    pub max_content: u32,
}

impl Limits {
    /// Defaults: 4 KiB of text (the seed allowed 1 KiB) in a frame of at most
    /// 8 KiB.
    pub const DEFAULT: Limits = Limits {
        max_frame: 8 * 1024,
        max_name: MAX_NAME_LEN as u16,
        max_content: 4 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
