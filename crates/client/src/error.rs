//! The errors a client call can end with.

use chinwag_proto::ErrorCode;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an ERROR frame (or raised one on its own
    /// just before it closed the connection).
    #[error("{message} ({})", code.name())]
    Server { code: ErrorCode, message: String },
    /// The socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent something this client cannot make sense of: an
    /// unexpected reply type or an undecodable frame.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// TLS on one side only, or a certificate that cannot be trusted; the
    /// message says what to change.
    #[error("{0}")]
    Tls(String),
    /// The connection ended before the reply arrived.
    #[error("the connection is closed")]
    Closed,
    /// The request was not sent: it breaks a rule the server announced
    /// (a name, a text too long, ...). Checked locally, so no round trip.
    #[error("{0}")]
    InvalidInput(String),
}

impl ClientError {
    /// The server's error code, for [`ClientError::Server`].
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn server(code: ErrorCode, message: impl Into<String>) -> ClientError {
        ClientError::Server {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_show_message_then_code() {
        let e = ClientError::server(ErrorCode::Muted, "you are muted for another 59s");
        assert_eq!(e.to_string(), "you are muted for another 59s (Muted)");
        assert_eq!(e.code(), Some(ErrorCode::Muted));
        assert_eq!(ClientError::Closed.code(), None);
    }
}
