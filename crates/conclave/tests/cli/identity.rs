//! Command-line tests for the identity feature; helpers (conclave, create_user, serve, temp_dir) are in main.rs.
