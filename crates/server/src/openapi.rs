//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! the transport types, so it cannot drift from what the server does.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    audit, auth, channels, compliance, connectors, files, messages, scim, system, users,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Conclave API", description = "Self-hosted, compliance-first team messaging. The WebSocket protocol at /api/v1/ws is described in docs/api.md."),
    paths(
        system::healthz, system::readyz, system::openapi,
        auth::login, auth::logout, auth::me, auth::sessions, auth::revoke_session,
        users::list, users::get, users::create,
        channels::list, channels::browse, channels::create, channels::open_conversation, channels::get,
        channels::update, channels::join, channels::leave, channels::members, channels::add_member,
        channels::remove_member, channels::mark_read, channels::pins,
        messages::history, messages::post, messages::get, messages::edit, messages::delete,
        messages::versions, messages::add_reaction, messages::remove_reaction, messages::add_pin, messages::remove_pin,
        files::upload, files::download, files::thumbnail_download,
        audit::list, audit::export,
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

/// The whole document: the core API and every feature module's part.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.merge(compliance::Doc::openapi());
    document.merge(connectors::Doc::openapi());
    document.merge(scim::Doc::openapi());
    document.merge(crate::routes::admin::Doc::openapi());
    document.merge(crate::routes::identity::Doc::openapi());
    document.merge(crate::routes::webhooks::Doc::openapi());
    document.merge(crate::routes::passwords::Doc::openapi());
    document.merge(crate::routes::profiles::Doc::openapi());
    document
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
