//! Account passwords: the rules for a new one, argon2id hashing on a
//! blocking thread (hashing is slow on purpose and must not stall a
//! connection task), as many at once as there are cores. Wrong passwords
//! are limited by [`crate::secrets`]. Passwords are never logged.

use std::sync::OnceLock;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chinwag_proto::ErrorCode;
use tokio::sync::Semaphore;

use crate::error::CmdError;

/// Shortest password a new account or PASSWD accepts, in bytes.
pub const MIN_PASSWORD: usize = 8;
/// Longest password, in bytes.
pub const MAX_PASSWORD: usize = 256;

/// Checks a new password against the rules.
pub fn check_new_password(password: &str) -> Result<(), CmdError> {
    if password.len() < MIN_PASSWORD || password.len() > MAX_PASSWORD {
        return Err(CmdError::new(
            ErrorCode::InvalidArgument,
            format!("a password must be {MIN_PASSWORD} to {MAX_PASSWORD} bytes long"),
        ));
    }
    if password.chars().any(char::is_control) {
        return Err(CmdError::new(
            ErrorCode::InvalidArgument,
            "a password cannot contain control characters",
        ));
    }
    Ok(())
}

/// Runs `work` (a hash or a check) on a blocking thread once one of the
/// cores is free for it. Each holds argon2's 19 MiB while it runs, and
/// more at once than there are cores would only be slower each: without
/// this bound, the thousands of account holders of a dead node logging
/// in again at once on the others would want 19 MiB each.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    static CORES: OnceLock<Semaphore> = OnceLock::new();
    let cores = CORES.get_or_init(|| {
        Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    });
    // Never closed, so the permit always comes.
    let _core = cores.acquire().await;
    tokio::task::spawn_blocking(work).await
}

/// Hashes a password with argon2id and a fresh random salt, as a PHC
/// string (`$argon2id$v=19$...`).
pub async fn hash(password: String) -> Result<String, CmdError> {
    hashing(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r)
    .map_err(|e| {
        CmdError::new(
            ErrorCode::Internal,
            format!("cannot hash the password: {e}"),
        )
    })
}

/// Whether `password` matches the stored PHC string. A hash that does not
/// parse matches nothing.
pub async fn verify(password: String, phc: String) -> bool {
    hashing(move || {
        PasswordHash::new(&phc).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// The error for a locked door.
pub fn too_many_attempts(wait: Duration) -> CmdError {
    CmdError::new(
        ErrorCode::TooManyAttempts,
        format!(
            "too many wrong passwords; try again in {}s",
            wait.as_secs_f64().ceil() as u64
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ() {
        let a = hash("correct horse".into()).await.unwrap();
        let b = hash("correct horse".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify("correct horse".into(), a.clone()).await);
        assert!(!verify("correct horsE".into(), a).await);
        assert!(!verify("x".into(), "not a hash".into()).await);
    }

    #[test]
    fn new_password_rules() {
        assert!(check_new_password("12345678").is_ok());
        assert!(check_new_password("1234567").is_err());
        assert!(check_new_password(&"x".repeat(257)).is_err());
        assert!(check_new_password("abc\ndefgh").is_err());
    }
}
