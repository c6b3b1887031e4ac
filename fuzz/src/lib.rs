//! The fuzz targets' bodies. `checks` is plain Rust with no libFuzzer in it:
//! the ordinary test suite includes the same file to replay the committed
//! corpus, so whatever a fuzzing run proved stays proved in CI.

pub mod checks;
