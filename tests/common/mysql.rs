//! A throwaway MySQL/MariaDB database per test on the server at `TEST_MYSQL_URL`
//! (default `mysql://root@127.0.0.1:3306`, the MariaDB this machine runs),
//! dropped when the test ends.

use diesel_async::{AsyncConnection, AsyncMysqlConnection, SimpleAsyncConnection};

pub fn server_url() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

pub struct TestMysql {
    /// URL of the new database, for `ORAK_STORAGE__DATABASE_URL` or `MysqlStore::open`.
    pub url: String,
    name: String,
}

impl TestMysql {
    pub async fn create() -> TestMysql {
        let server = server_url();
        let name = format!("orak_test_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let mut conn = AsyncMysqlConnection::establish(&server)
            .await
            .unwrap_or_else(|e| panic!("MySQL/MariaDB at {server} (set TEST_MYSQL_URL): {e}"));
        conn.batch_execute(&format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
            .await
            .expect("create test database");
        TestMysql { url: format!("{server}/{name}"), name }
    }

    /// Runs one SQL statement in the test database (to look behind the service's back).
    pub async fn query_count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        use diesel_async::RunQueryDsl;
        let mut conn = AsyncMysqlConnection::establish(&self.url).await.expect("connect");
        let rows: Vec<N> = diesel::sql_query(sql).load(&mut conn).await.expect(sql);
        rows.as_slice().first().map(|r| r.n).unwrap_or(0)
    }
}

impl Drop for TestMysql {
    fn drop(&mut self) {
        let (server, name) = (server_url(), self.name.clone());
        // Drop runs inside the test's runtime: drop the database from a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut conn = AsyncMysqlConnection::establish(&server).await.ok()?;
                conn.batch_execute(&format!("DROP DATABASE IF EXISTS `{name}`")).await.ok()
            })
        })
        .join();
    }
}
