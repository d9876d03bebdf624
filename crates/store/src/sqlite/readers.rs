//! Read-only connections for queries, used on tokio's blocking threads.
//!
//! In WAL mode readers never wait for the writer, and see every commit
//! made before they start. Connections are kept in a small idle pool; a
//! burst opens more, and the surplus is closed when it is handed back.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::{StoreError, StoreFuture};

/// Idle connections kept open.
const IDLE: usize = 4;

pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub fn new(path: PathBuf) -> Readers {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE {
            idle.push(conn);
        }
    }

    /// Runs `query` on a reader connection on a blocking thread.
    pub fn run<T, F>(self: &Arc<Self>, query: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = Arc::clone(self);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let conn = readers.take()?;
                let result = query(&conn);
                readers.give_back(conn);
                result
            })
            .await
            .map_err(|e| StoreError::Failed(format!("reader task failed: {e}")))?
        })
    }
}
