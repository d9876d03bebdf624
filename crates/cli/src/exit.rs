//! Exit codes a script can rely on, and the error that carries one.

use chinwag_client::ClientError;

/// How `chinwag` ends. The numbers are part of the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: the command succeeded (or `listen` saw the server shut down).
    Success = 0,
    /// 1: the server refused the request (in the line mode: a line
    /// failed, refused or not understood).
    Refused = 1,
    /// 2: usage error: bad arguments, or a name or text the server's rules
    /// forbid (caught before sending).
    Usage = 2,
    /// 3: could not connect, or the connection was lost.
    Connection = 3,
    /// 4: an administrator kicked (or banned) this user.
    Kicked = 4,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// The `EXIT STATUS` section of `--help`.
pub const HELP: &str = "\
Exit status:
  0  success (for `listen` and line mode also: the server shut down)
  1  the server refused the request; `error: <message> (<CODE>)` is printed
     (line mode: a line failed, refused or not understood; the rest still ran)
  2  usage error: bad arguments, or an invalid name or text
  3  could not connect, or the connection was lost
  4  kicked or banned by an administrator";

/// A command that failed: what to print on stderr and how to exit.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn connection(message: impl Into<String>) -> Failure {
        Failure {
            exit: Exit::Connection,
            message: message.into(),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Failure {
        let exit = match &error {
            ClientError::Server { .. } => Exit::Refused,
            ClientError::InvalidInput(_) => Exit::Usage,
            ClientError::Io(_)
            | ClientError::Protocol(_)
            | ClientError::Tls(_)
            | ClientError::Closed => Exit::Connection,
        };
        let message = match &error {
            ClientError::Closed => "the connection was lost".to_owned(),
            other => other.to_string(),
        };
        Failure { exit, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chinwag_client::ErrorCode;

    #[test]
    fn client_errors_map_to_exit_codes() {
        let refused = Failure::from(ClientError::Server {
            code: ErrorCode::NoSuchUser,
            message: "bob is not online".into(),
        });
        assert_eq!(refused.exit, Exit::Refused);
        assert_eq!(refused.message, "bob is not online (NoSuchUser)");
        assert_eq!(Failure::from(ClientError::Closed).exit, Exit::Connection);
        assert_eq!(
            Failure::from(ClientError::InvalidInput("bad".into())).exit,
            Exit::Usage
        );
        assert_eq!(Exit::Kicked.code(), 4);
    }
}
