//! What the server keeps on disk: its SQLite database and secrets, readable by its owner
//! only. SQLite's alone, whatever backend the other tests run on.

use std::os::unix::fs::PermissionsExt;

use palaver_server::{Config, run};
use tokio::net::TcpListener;

use crate::support::{TestServer, database_url};

/// A server on a SQLite file.
async fn on_sqlite() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let database = database_url(&dir);
    TestServer::start_on(dir, database, None, |_| {}).await
}

#[tokio::test]
async fn the_data_directory_and_its_files_are_the_owners_alone() {
    let server = on_sqlite().await;
    // Answering means `run` opened the database and made its secrets.
    assert_eq!(server.get("/healthz").await.0, 200);
    let data = server.dir.path().join("data");
    let mode = |name: &str| {
        let path = data.join(name);
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        meta.permissions().mode() & 0o777
    };
    assert_eq!(mode(""), 0o700, "the data directory");
    for file in [
        "palaver.db",
        "palaver.db-wal",
        "palaver.db-shm",
        "palaver.db.lock",
        "session-secret",
        "admin-token",
    ] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
}

#[tokio::test]
async fn a_second_server_on_the_same_database_is_refused() {
    let server = on_sqlite().await;
    assert_eq!(server.get("/healthz").await.0, 200);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = Config::with_database(database_url(&server.dir));
    let refused = run(listener, config, async {}).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("another Palaver server is using the database"),
        "{refused}"
    );
    // The first goes on.
    assert_eq!(server.get("/healthz").await.0, 200);
}
