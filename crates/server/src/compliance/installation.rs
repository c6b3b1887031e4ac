//! The installation id: random, made once per database and kept there, so
//! that what this installation exports (EML `Message-ID`s) never collides
//! with another installation's, or with a rebuilt one's on a new database,
//! while the same message exported twice keeps the same id.

use conclave_store::{Store, StoreError};

/// The key of the installation id among the organisation-wide settings.
pub const INSTALLATION_ID_SETTING: &str = "installation_id";

/// The installation id, made and stored on first use (the server asks for
/// it at start). 16 lowercase hex digits: safe in a Message-ID's left part.
pub async fn installation_id(store: &dyn Store) -> Result<String, StoreError> {
    if let Some(id) = store.auth_setting(INSTALLATION_ID_SETTING).await?
        && is_valid(&id)
    {
        return Ok(id);
    }
    let made = crate::auth::new_token()[..16].to_string();
    store
        .set_auth_setting(INSTALLATION_ID_SETTING, &made, crate::now_millis())
        .await?;
    // Read back: when two processes made one at once, the last write is
    // the one every later export uses.
    Ok(store
        .auth_setting(INSTALLATION_ID_SETTING)
        .await?
        .filter(|id| is_valid(id))
        .unwrap_or(made))
}

fn is_valid(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|byte| byte.is_ascii_alphanumeric())
}
