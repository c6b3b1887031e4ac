//! libFuzzer entry point; the invariants live in `conclave_fuzz::checks`
//! so the regression test (crates/server/tests/api/fuzz_corpus.rs) runs the
//! same ones over the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| conclave_fuzz::checks::slack_payload(data));
