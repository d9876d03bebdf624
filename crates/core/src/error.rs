//! The error every layer answers a failed request with: the router and
//! its handlers, the operations, the state, the cluster. It lives apart
//! from the router so that the layers below it need not import it.

use chinwag_proto::{ErrorCode, ServerFrame};

use crate::store::StoreError;

/// A failed request: becomes an ERROR frame; the connection lives on unless
/// the handler also set `conn.leave`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmdError {
    pub code: ErrorCode,
    pub message: String,
}

impl CmdError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> CmdError {
        CmdError {
            code,
            message: message.into(),
        }
    }
}

/// The answer to a request: the frame that answers it, or why not.
pub type Reply = Result<ServerFrame, CmdError>;

impl From<StoreError> for CmdError {
    fn from(error: StoreError) -> CmdError {
        CmdError::new(ErrorCode::StorageFailure, error.to_string())
    }
}

/// A request named a user who is not online.
pub fn no_such_user(name: &str) -> CmdError {
    CmdError::new(
        ErrorCode::NoSuchUser,
        format!("no user named {name:?} is online"),
    )
}

/// A message for a user online whose sessions could not take it.
pub fn undeliverable(name: &str) -> CmdError {
    CmdError::new(
        ErrorCode::Undeliverable,
        format!("{name} is disconnecting or not reading fast enough; not delivered"),
    )
}
