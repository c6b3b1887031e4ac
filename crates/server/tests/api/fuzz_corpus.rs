//! Replays the committed fuzz corpus through the same checks the fuzz
//! targets run (`fuzz/src/checks.rs`, included below), so every seed and
//! every fixed crash keeps being checked by the ordinary test suite.
//!
//! Each target's inputs are the files of `fuzz/corpus/TARGET/` (seeds) and
//! `fuzz/regressions/TARGET/` (inputs that once crashed; see
//! docs/fuzzing.md). A failure names the file.

use std::path::{Path, PathBuf};

use super::*;

#[path = "../../../../fuzz/src/checks.rs"]
mod checks;

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files = Vec::new();
    for folder in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(folder).join(target)) else {
            continue;
        };
        files.extend(entries.map(|entry| entry.unwrap().path()));
    }
    files.sort();
    files
}

fn replay(target: &str, check: fn(&[u8])) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "fuzz/corpus/{target} holds no seeds; the fuzz target would start blind"
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(
            outcome.is_ok(),
            "{} fails the {target} checks",
            file.display()
        );
    }
}

#[test]
fn whatsapp_export_corpus_passes_the_fuzz_checks() {
    replay("whatsapp_export", checks::whatsapp_export);
}

#[test]
fn scim_filter_corpus_passes_the_fuzz_checks() {
    replay("scim_filter", checks::scim_filter);
}

#[test]
fn scim_patch_corpus_passes_the_fuzz_checks() {
    replay("scim_patch", checks::scim_patch);
}

#[test]
fn slack_payload_corpus_passes_the_fuzz_checks() {
    replay("slack_payload", checks::slack_payload);
}

/// What the scim_filter target found first (docs/fuzzing.md): a filter
/// whose attribute had a multi-byte character across its fourth byte
/// panicked the request while looking for a `urn:` prefix. It is an
/// invalid filter like any other bad attribute name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wide_character_early_in_a_filter_is_an_invalid_filter_not_a_crash() {
    let server = start(Backend::Sqlite, |_| {}).await;
    let (_, token) =
        conclave_server::routes::admin::issue_scim_token(&*server.state.store, "fuzz idp", None)
            .await
            .unwrap();
    for filter in [
        "ur\u{20ac}:ietf pr",
        "ab\u{20ac} eq \"x\"",
        "u\u{1f600}rn:x eq 1",
    ] {
        let response = server
            .http
            .get(server.url("/scim/v2/Users"))
            .query(&[("filter", filter)])
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{filter}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["scimType"], "invalidFilter", "{filter}: {body}");
    }
}
