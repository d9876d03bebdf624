//! A fresh PostgreSQL database per test, `chinwag_test_<pid>_<n>`, on the
//! server `CHINWAG_TEST_POSTGRES` names (default: the `postgres` role on
//! 127.0.0.1:5432, which scripts/test provides). Dropped when the
//! [`TestDatabase`] is.

use std::sync::atomic::{AtomicU32, Ordering};

pub struct TestDatabase {
    /// The URL of the fresh database.
    pub url: String,
    name: String,
    admin_url: String,
}

/// The maintenance database to create test databases from.
fn admin_url() -> String {
    std::env::var("CHINWAG_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn run(url: &str, sql: &str) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let result = client.batch_execute(sql).await;
    drop(client);
    let _ = driver.await;
    result
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "chinwag_test_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let admin_url = admin_url();
        if let Err(error) = run(&admin_url, &format!("CREATE DATABASE {name}")).await {
            panic!(
                "cannot create a test database on {admin_url} ({error}); scripts/test starts \
                 PostgreSQL, or set CHINWAG_TEST_POSTGRES"
            );
        }
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        TestDatabase {
            url: format!("{base}/{name}"),
            name,
            admin_url,
        }
    }
}

impl TestDatabase {
    /// The number a query of one row and one `bigint` column returns.
    pub async fn count(&self, sql: &str) -> i64 {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let driver = tokio::spawn(connection);
        let count = client.query_one(sql, &[]).await.unwrap().get(0);
        drop(client);
        let _ = driver.await;
        count
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs outside any runtime (or inside one that cannot block):
        // a thread of its own does the dropping.
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let url = self.admin_url.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(run(&url, &sql)).ok()
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}
