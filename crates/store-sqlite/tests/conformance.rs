//! The backend-agnostic conformance suite, on SQLite.

use std::sync::Arc;

use conclave_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_conformance_suite() {
    let dir = std::env::temp_dir().join(format!("conclave-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("conclave.db");
    let _ = std::fs::remove_file(&path);
    let store = SqliteStore::open(&path).unwrap();
    conclave_store::conformance::run_all(Arc::new(store)).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_keeps_data_and_schema() {
    let dir = std::env::temp_dir().join(format!("conclave-reopen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("conclave.db");
    let _ = std::fs::remove_file(&path);
    {
        let store = SqliteStore::open(&path).unwrap();
        use conclave_store::Store;
        store
            .create_user(conclave_domain::NewUser {
                email: "a@example.com".into(),
                handle: "a".into(),
                name: "A".into(),
                role: conclave_domain::Role::Owner,
                password_hash: None,
                created_at: 1,
            })
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    use conclave_store::Store;
    assert_eq!(store.count_users().await.unwrap(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
