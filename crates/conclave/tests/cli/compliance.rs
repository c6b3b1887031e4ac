//! Command-line tests for the compliance feature; helpers (conclave, create_user, serve, temp_dir) are in main.rs.
