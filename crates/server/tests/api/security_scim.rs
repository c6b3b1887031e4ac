//! Server tests for SCIM's limits (issue 11, item 2): a SCIM token acts
//! with the rights of the person who minted it, capped at admin. It never
//! changes an owner's or admin's account, never raises anyone to owner or
//! admin, dies when its maker is deactivated or demoted, and every SCIM
//! action is audited with the token and its maker. A userName must be an
//! email address. The harness (start, person, call) is in main.rs.

use super::*;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A SCIM request (the harness's in scim.rs, without the content type).
async fn scim(
    server: &Server,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, body, _) = super::scim::scim(server, token, method, path, body).await;
    (status, body)
}

fn patch(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

/// A token minted by `maker` through the admin API: (id, secret).
async fn minted_by(server: &Server, maker: &Person, name: &str) -> (i64, String) {
    let body = server
        .ok(
            "POST",
            "/api/v1/admin/scim-tokens",
            maker,
            Some(json!({"name": name})),
        )
        .await;
    assert_eq!(body["created_by"], maker.id, "{body}");
    (
        body["id"].as_i64().unwrap(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

/// A token minted on the command line (no maker): (id, secret).
async fn operator_token(server: &Server) -> (i64, String) {
    let (token, secret) =
        conclave_server::routes::admin::issue_scim_token(&*server.state.store, "operator", None)
            .await
            .unwrap();
    assert_eq!(token.created_by, None);
    (token.id, secret)
}

async fn user(server: &Server, id: i64) -> conclave_domain::User {
    server.state.store.user_by_id(id).await.unwrap().unwrap()
}

fn assert_refused(status: StatusCode, body: &Value, what: &str) {
    assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {body}");
    assert_eq!(body["status"], "403", "{what}: {body}");
    assert!(
        body["schemas"][0].as_str().unwrap().ends_with(":Error"),
        "{what}: {body}"
    );
}

#[tokio::test]
async fn scim_never_changes_an_owners_or_admins_account() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        // Two owners, so that refusing to deactivate one is SCIM's rule and
        // not the last-owner rule.
        let owner = server.person("sec_owner", Role::Owner).await;
        let other_owner = server.person("sec_owner2", Role::Owner).await;
        let admin = server.person("sec_admin", Role::Admin).await;
        let other_admin = server.person("sec_admin2", Role::Admin).await;
        let member = server.person("sec_member", Role::Member).await;
        let (_, by_admin) = minted_by(&server, &admin, "admin's idp").await;
        let (_, by_owner) = minted_by(&server, &owner, "owner's idp").await;
        let (_, by_operator) = operator_token(&server).await;

        for (token, whose) in [
            (&by_admin, "admin-minted"),
            (&by_owner, "owner-minted"),
            (&by_operator, "operator"),
        ] {
            for target in [&other_owner, &other_admin] {
                let path = format!("/Users/{}", target.id);
                let before = user(&server, target.id).await;
                let (status, body) = scim(
                    &server,
                    token,
                    "PATCH",
                    &path,
                    Some(patch(
                        json!([{"op": "replace", "path": "active", "value": false}]),
                    )),
                )
                .await;
                assert_refused(status, &body, &format!("{whose} deactivating {path}"));
                let (status, body) = scim(
                    &server,
                    token,
                    "PATCH",
                    &path,
                    Some(patch(
                        json!([{"op": "replace", "path": "userName", "value": "attacker@evil.example"}]),
                    )),
                )
                .await;
                assert_refused(status, &body, &format!("{whose} renaming {path}"));
                let (status, body) = scim(
                    &server,
                    token,
                    "PATCH",
                    &path,
                    Some(patch(json!([{"op": "add", "path": "emails", "value": [
                        {"value": "attacker@evil.example", "type": "work", "primary": true}
                    ]}]))),
                )
                .await;
                assert_refused(status, &body, &format!("{whose} changing emails of {path}"));
                let (status, body) = scim(
                    &server,
                    token,
                    "PUT",
                    &path,
                    Some(json!({
                        "schemas": [USER_SCHEMA],
                        "userName": "attacker@evil.example",
                        "displayName": "Taken over",
                    })),
                )
                .await;
                assert_refused(status, &body, &format!("{whose} replacing {path}"));
                let (status, body) = scim(&server, token, "DELETE", &path, None).await;
                assert_refused(status, &body, &format!("{whose} deleting {path}"));
                // Nothing changed, and the account is still visible to SCIM.
                let after = user(&server, target.id).await;
                assert_eq!(
                    (after.active, after.email.as_str(), after.name.as_str()),
                    (true, before.email.as_str(), before.name.as_str()),
                    "{whose} left {path} alone"
                );
                let (status, _) = scim(&server, token, "GET", &path, None).await;
                assert_eq!(status, StatusCode::OK, "reading is allowed");
            }
        }

        // The same tokens still manage everyone else.
        let (status, body) = scim(
            &server,
            &by_admin,
            "PATCH",
            &format!("/Users/{}", member.id),
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": false}]),
            )),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(!user(&server, member.id).await.active);

        // Provisioning someone SCIM deleted before brings their account
        // back, but never an admin's: an admin deactivated and hidden in the
        // store (as an older release could leave one) stays as it is.
        server
            .state
            .store
            .put_scim_user(conclave_domain::directory::ScimUserRecord {
                user_id: other_admin.id,
                document: "{}".into(),
                deleted_at: Some(1),
                created_at: 1,
                updated_at: 1,
            })
            .await
            .unwrap();
        let (status, body) = scim(
            &server,
            &by_admin,
            "POST",
            "/Users",
            Some(json!({
                "schemas": [USER_SCHEMA],
                "userName": "sec_admin2@example.com",
                "displayName": "Revived",
            })),
        )
        .await;
        assert_refused(status, &body, "reviving a deleted admin");
        assert_eq!(user(&server, other_admin.id).await.name, "sec_admin2");
    }
}

#[tokio::test]
async fn scim_never_raises_anyone_to_owner_or_admin() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let owner = server.person("raise_owner", Role::Owner).await;
        let admin = server.person("raise_admin", Role::Admin).await;
        let (_, token) = minted_by(&server, &admin, "idp").await;

        // Role-shaped attributes, wherever an identity provider might put
        // them, make nobody an owner or admin: SCIM assigns no roles.
        let (status, body) = scim(
            &server,
            &token,
            "POST",
            "/Users",
            Some(json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                "userName": "climber@example.com",
                "roles": [{"value": "owner", "primary": true}, {"value": "admin"}],
                "entitlements": [{"value": "admin"}],
                "userType": "Owner",
                ENTERPRISE: {"department": "admins", "organization": "owner"},
            })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(body.get("roles").is_none(), "{body}");
        let climber: i64 = body["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(user(&server, climber).await.role, Role::Member);
        let (status, body) = scim(
            &server,
            &token,
            "PATCH",
            &format!("/Users/{climber}"),
            Some(patch(
                json!([{"op": "add", "path": "roles", "value": [{"value": "admin"}]}]),
            )),
        )
        .await;
        assert_eq!(
            (status, body["scimType"].clone()),
            (StatusCode::BAD_REQUEST, json!("invalidPath")),
            "roles is not an attribute Conclave serves: {body}"
        );
        let (status, body) = scim(
            &server,
            &token,
            "PUT",
            &format!("/Users/{climber}"),
            Some(json!({
                "schemas": [USER_SCHEMA],
                "userName": "climber@example.com",
                "roles": [{"value": "owner"}],
            })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // A group named like a role is only a team.
        let (status, body) = scim(
            &server,
            &token,
            "POST",
            "/Groups",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Owners",
                "members": [{"value": climber.to_string()}],
            })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(user(&server, climber).await.role, Role::Member);

        // Team memberships of owners and admins are not SCIM's to change:
        // adding or removing one is refused, as is deleting a team that
        // holds one; a change that leaves them where they are goes through.
        let team = body["id"].as_str().unwrap().to_string();
        let team_id: i64 = team.trim_start_matches("team-").parse().unwrap();
        for (who, role) in [(&owner, "owner"), (&admin, "admin")] {
            let (status, body) = scim(
                &server,
                &token,
                "PATCH",
                &format!("/Groups/{team}"),
                Some(patch(
                    json!([{"op": "add", "path": "members", "value": [{"value": who.id.to_string()}]}]),
                )),
            )
            .await;
            assert_refused(status, &body, &format!("adding an {role} to a team"));
        }
        server
            .ok(
                "PUT",
                &format!("/api/v1/admin/teams/{team_id}/members/{}", admin.id),
                &owner,
                None,
            )
            .await;
        let (status, body) = scim(
            &server,
            &token,
            "PATCH",
            &format!("/Groups/{team}"),
            Some(patch(
                json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", admin.id)}]),
            )),
        )
        .await;
        assert_refused(status, &body, "removing an admin from a team");
        let (status, body) = scim(
            &server,
            &token,
            "PUT",
            &format!("/Groups/{team}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Owners",
                "members": [{"value": climber.to_string()}],
            })),
        )
        .await;
        assert_refused(status, &body, "replacing a team without its admin");
        let (status, body) =
            scim(&server, &token, "DELETE", &format!("/Groups/{team}"), None).await;
        assert_refused(status, &body, "deleting a team that holds an admin");
        assert_eq!(
            server
                .state
                .store
                .org_unit_member_ids(team_id)
                .await
                .unwrap()
                .len(),
            2,
            "the team is as it was"
        );
        let (status, body) = scim(
            &server,
            &token,
            "PATCH",
            &format!("/Groups/{team}"),
            Some(patch(
                json!([{"op": "remove", "path": format!("members[value eq \"{climber}\"]")}]),
            )),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "members come and go around an admin: {body}"
        );
        for (id, role) in [
            (owner.id, Role::Owner),
            (admin.id, Role::Admin),
            (climber, Role::Member),
        ] {
            assert_eq!(user(&server, id).await.role, role);
        }
    }
}

#[tokio::test]
async fn a_scim_token_dies_with_its_makers_rights() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let owner = server.person("dies_owner", Role::Owner).await;
        let leaver = server.person("dies_admin", Role::Admin).await;
        let demoted = server.person("dies_demoted", Role::Admin).await;
        let member = server.person("dies_member", Role::Member).await;
        let (leaver_token_id, leaver_token) = minted_by(&server, &leaver, "leaver's idp").await;
        let (demoted_token_id, demoted_token) = minted_by(&server, &demoted, "demoted's idp").await;
        let (_, operator) = operator_token(&server).await;
        let member_path = format!("/Users/{}", member.id);
        for token in [&leaver_token, &demoted_token, &operator] {
            let (status, body) = scim(&server, token, "GET", &member_path, None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }

        // The maker is deactivated: their token stops at once, and cannot
        // be used to reactivate them.
        server
            .ok(
                "POST",
                &format!("/api/v1/admin/users/{}/deactivate", leaver.id),
                &owner,
                None,
            )
            .await;
        let (status, body) = scim(
            &server,
            &leaver_token,
            "PATCH",
            &format!("/Users/{}", leaver.id),
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": true}]),
            )),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["status"], "401");
        assert!(!user(&server, leaver.id).await.active);
        // Nor through another live token: admins' accounts are not SCIM's.
        let (status, _) = scim(
            &server,
            &operator,
            "PATCH",
            &format!("/Users/{}", leaver.id),
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": true}]),
            )),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(!user(&server, leaver.id).await.active);
        // Reactivating the maker does not bring the token back.
        server
            .ok(
                "POST",
                &format!("/api/v1/admin/users/{}/reactivate", leaver.id),
                &owner,
                None,
            )
            .await;
        let (status, _) = scim(&server, &leaver_token, "GET", &member_path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // The maker is demoted below admin: checked at the next request,
        // which finds the token dead, and it stays dead after a promotion.
        server
            .ok(
                "PUT",
                &format!("/api/v1/admin/users/{}/role", demoted.id),
                &owner,
                Some(json!({"role": "member"})),
            )
            .await;
        let (status, body) = scim(
            &server,
            &demoted_token,
            "PATCH",
            &member_path,
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": false}]),
            )),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(user(&server, member.id).await.active);
        server
            .ok(
                "PUT",
                &format!("/api/v1/admin/users/{}/role", demoted.id),
                &owner,
                Some(json!({"role": "admin"})),
            )
            .await;
        let (status, _) = scim(&server, &demoted_token, "GET", &member_path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // The token list shows both revoked and who made them; the
        // operator's token is unaffected.
        let listed = server
            .ok("GET", "/api/v1/admin/scim-tokens", &owner, None)
            .await;
        for (id, maker) in [(leaver_token_id, leaver.id), (demoted_token_id, demoted.id)] {
            let token = listed
                .as_array()
                .unwrap()
                .iter()
                .find(|token| token["id"] == id)
                .unwrap();
            assert_eq!(token["created_by"], maker, "{token}");
            assert!(token["revoked_at"].is_i64(), "{token}");
        }
        let (status, _) = scim(&server, &operator, "GET", &member_path, None).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn scim_actions_name_the_token_and_its_maker_in_the_audit_log() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let owner = server.person("audit_owner", Role::Owner).await;
        let admin = server.person("audit_admin", Role::Admin).await;
        let (admin_token_id, admin_token) = minted_by(&server, &admin, "okta").await;
        let (operator_token_id, operator) = operator_token(&server).await;

        let (status, body) = scim(
            &server,
            &admin_token,
            "POST",
            "/Users",
            Some(json!({"schemas": [USER_SCHEMA], "userName": "audited@example.com", "active": false})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let audited = body["id"].as_str().unwrap().to_string();
        let (status, body) = scim(
            &server,
            &operator,
            "PATCH",
            &format!("/Users/{audited}"),
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": true}]),
            )),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let entries = server
            .ok(
                "GET",
                &format!("/api/v1/audit?target_id={audited}&limit=100"),
                &owner,
                None,
            )
            .await;
        let by = |action: &str| -> Vec<(Value, Value)> {
            entries
                .as_array()
                .unwrap()
                .iter()
                .filter(|entry| entry["action"] == action)
                .map(|entry| (entry["actor_id"].clone(), entry["actor_label"].clone()))
                .collect()
        };
        let admin_minted = (
            json!(admin.id),
            json!(format!("scim:token-{admin_token_id}")),
        );
        let operator_minted = (
            Value::Null,
            json!(format!("scim:token-{operator_token_id}")),
        );
        assert_eq!(by("scim.user.create"), vec![admin_minted.clone()]);
        assert_eq!(by("user.deactivate"), vec![admin_minted]);
        assert_eq!(by("scim.user.patch"), vec![operator_minted.clone()]);
        assert_eq!(by("user.reactivate"), vec![operator_minted]);
    }
}

#[tokio::test]
async fn scim_refuses_user_names_that_are_not_email_addresses() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let (_, token) = operator_token(&server).await;
        for user_name in [
            "bjensen",
            "b jensen@example.com",
            "bjensen@localhost",
            "@example.com",
        ] {
            let (status, body) = scim(
                &server,
                &token,
                "POST",
                "/Users",
                Some(json!({"schemas": [USER_SCHEMA], "userName": user_name})),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{user_name}: {body}");
            assert_eq!(body["scimType"], "invalidValue", "{user_name}: {body}");
        }
        let (status, body) = scim(
            &server,
            &token,
            "POST",
            "/Users",
            Some(json!({"schemas": [USER_SCHEMA], "userName": "BJensen@Example.com"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let path = format!("/Users/{}", body["id"].as_str().unwrap());
        let (status, body) = scim(
            &server,
            &token,
            "PATCH",
            &path,
            Some(patch(
                json!([{"op": "replace", "path": "userName", "value": "bjensen"}]),
            )),
        )
        .await;
        assert_eq!(
            (status, body["scimType"].clone()),
            (StatusCode::BAD_REQUEST, json!("invalidValue")),
            "{body}"
        );
        let (status, body) = scim(
            &server,
            &token,
            "PUT",
            &path,
            Some(json!({"schemas": [USER_SCHEMA], "userName": "bjensen"})),
        )
        .await;
        assert_eq!(
            (status, body["scimType"].clone()),
            (StatusCode::BAD_REQUEST, json!("invalidValue")),
            "{body}"
        );
        let (_, body) = scim(&server, &token, "GET", &path, None).await;
        assert_eq!(body["userName"], "BJensen@Example.com");
    }
}
