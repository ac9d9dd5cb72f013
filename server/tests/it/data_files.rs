//! What the server keeps on disk: its database and secrets, readable by its owner only.

use std::os::unix::fs::PermissionsExt;

use crate::support::TestServer;

#[tokio::test]
async fn the_data_directory_and_its_files_are_the_owners_alone() {
    let server = TestServer::start().await;
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
        "session-secret",
        "admin-token",
    ] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
}
