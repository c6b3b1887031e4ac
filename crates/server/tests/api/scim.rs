//! Server tests for the scim feature; the harness (start, person, call, socket) is in main.rs.
//!
//! SCIM provisioning (users, groups, filters, PATCH, deprovisioning), org
//! structure with auto-membership rules, guests, the admin API, and the
//! permission matrix of docs/permissions.md walked role by role.

use conclave_domain::directory::OrgUnitKind;

use super::*;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn scim_token(server: &Server) -> String {
    let (_, secret) =
        conclave_server::routes::admin::issue_scim_token(&*server.state.store, "test idp", None)
            .await
            .unwrap();
    secret
}

/// A SCIM request with the SCIM media type; answers status, body and
/// content type.
pub(super) async fn scim(
    server: &Server,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value, String) {
    let mut request = server
        .http
        .request(
            method.parse().unwrap(),
            server.url(&format!("/scim/v2{path}")),
        )
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        content_type,
    )
}

fn patch(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

fn filter_path(filter: &str) -> String {
    let mut url = reqwest::Url::parse("http://x/Users").unwrap();
    url.query_pairs_mut().append_pair("filter", filter);
    format!("/Users?{}", url.query().unwrap())
}

/// Waits for the socket to be closed by the server; answers how long it
/// took, or None when it stayed open for `limit`.
async fn closed_within(socket: &mut Socket, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        match tokio::time::timeout(limit - started.elapsed(), socket.next()).await {
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(WsMessage::Close(_)))) => {
                return Some(started.elapsed());
            }
            Ok(Some(Ok(_))) => continue,
            Err(_) => return None,
        }
    }
    None
}

async fn make_channel(server: &Server, who: &Person, name: &str, kind: &str) -> i64 {
    let channel = server
        .ok(
            "POST",
            "/api/v1/channels",
            who,
            Some(json!({"name": name, "kind": kind})),
        )
        .await;
    channel["channel"]["id"].as_i64().unwrap()
}

async fn channel_members(server: &Server, channel_id: i64) -> Vec<i64> {
    let mut members = server
        .state
        .store
        .channel_member_ids(channel_id)
        .await
        .unwrap();
    members.sort_unstable();
    members
}

/// Waits (briefly) until `check` holds: membership changes made by rules go
/// through the writer and are visible once committed.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..50 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_refuses_missing_bad_and_user_tokens_with_scim_errors() {
    let server = start(Backend::Sqlite, |_| {}).await;
    let member = server.person("member", Role::Member).await;
    let owner = server.person("owner", Role::Owner).await;
    for token in [
        "",
        "not-a-token",
        member.token.as_str(),
        owner.token.as_str(),
    ] {
        for path in ["/Users", "/Groups", "/ServiceProviderConfig", "/Schemas"] {
            let (status, body, content_type) = scim(&server, token, "GET", path, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} with {token:?}");
            assert_eq!(
                body["schemas"],
                json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
            );
            assert_eq!(body["status"], "401");
            assert!(
                content_type.starts_with("application/scim+json"),
                "{content_type}"
            );
        }
    }
    // A revoked token stops working at once.
    let token = scim_token(&server).await;
    assert_eq!(
        scim(&server, &token, "GET", "/Users", None).await.0,
        StatusCode::OK
    );
    let id = server.state.store.scim_tokens().await.unwrap()[0].id;
    server
        .ok(
            "DELETE",
            &format!("/api/v1/admin/scim-tokens/{id}"),
            &owner,
            None,
        )
        .await;
    assert_eq!(
        scim(&server, &token, "GET", "/Users", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Unknown endpoints are SCIM 404s.
    let token = scim_token(&server).await;
    let (status, body, _) = scim(&server, &token, "GET", "/Nope", None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::NOT_FOUND, Some("404"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_provisions_finds_changes_and_deprovisions_users() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let token = scim_token(&server).await;
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": "BJensen@Example.com",
            "externalId": "okta-1",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            ENTERPRISE: {"employeeNumber": "701984", "department": "Sales"}
        });
        let (status, created, content_type) =
            scim(&server, &token, "POST", "/Users", Some(user.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert!(content_type.starts_with("application/scim+json"));
        let id = created["id"].as_str().unwrap().to_string();
        assert_eq!(created["userName"], "BJensen@Example.com");
        assert_eq!(created["meta"]["resourceType"], "User");
        assert!(
            created["meta"]["location"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/scim/v2/Users/{id}"))
        );
        assert!(
            created["meta"]["version"]
                .as_str()
                .unwrap()
                .starts_with("W/\"")
        );
        assert_eq!(created[ENTERPRISE]["department"], "Sales");
        let account = server
            .state
            .store
            .user_by_email("bjensen@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (account.name.as_str(), account.role, account.active),
            ("Barbara Jensen", Role::Member, true)
        );

        // userName is unique case-insensitively: 409 uniqueness.
        let (status, body, _) = scim(
            &server,
            &token,
            "POST",
            "/Users",
            Some(json!({"userName": "bjensen@EXAMPLE.com"})),
        )
        .await;
        assert_eq!(
            (status, body["scimType"].as_str(), body["status"].as_str()),
            (StatusCode::CONFLICT, Some("uniqueness"), Some("409"))
        );
        // Invalid input: 400 with the fitting scimType.
        for (body, scim_type) in [
            (json!({"name": {"givenName": "x"}}), "invalidValue"),
            (json!({"userName": "a b"}), "invalidValue"),
            (
                json!({"userName": "x@example.com", "active": "perhaps"}),
                "invalidValue",
            ),
            (json!([1, 2]), "invalidSyntax"),
        ] {
            let (status, answer, _) =
                scim(&server, &token, "POST", "/Users", Some(body.clone())).await;
            assert_eq!(
                (status, answer["scimType"].as_str()),
                (StatusCode::BAD_REQUEST, Some(scim_type)),
                "{body}: {answer}"
            );
        }
        let (status, _, _) = scim(&server, &token, "GET", "/Users/999999", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // A local account exists too: filters see both.
        let alice = server.person("alice", Role::Member).await;
        for (filter, expected) in [
            (r#"userName eq "bjensen@example.com""#, vec![id.clone()]),
            (r#"userName sw "ALI""#, vec![alice.id.to_string()]),
            (
                r#"emails co "@example.com" and not (userName sw "b")"#,
                vec![alice.id.to_string()],
            ),
            (
                r#"externalId eq "okta-1" or userName eq "nobody""#,
                vec![id.clone()],
            ),
            (
                &format!(r#"{ENTERPRISE}:employeeNumber eq "701984""#),
                vec![id.clone()],
            ),
            (
                r#"emails[type eq "work" and value ew "example.com"]"#,
                vec![id.clone(), alice.id.to_string()],
            ),
            ("title pr", vec![]),
            (
                r#"meta.created gt "2000-01-01T00:00:00Z""#,
                vec![id.clone(), alice.id.to_string()],
            ),
        ] {
            let (status, list, _) = scim(&server, &token, "GET", &filter_path(filter), None).await;
            assert_eq!(status, StatusCode::OK, "{filter}: {list}");
            let mut ids: Vec<String> = list["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            let mut expected = expected;
            expected.sort();
            assert_eq!(ids, expected, "{filter}");
            assert_eq!(list["totalResults"], json!(ids.len()));
        }
        let (status, body, _) =
            scim(&server, &token, "GET", &filter_path("userName eq"), None).await;
        assert_eq!(
            (status, body["scimType"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalidFilter"))
        );

        // Paging and attribute selection.
        let (_, page, _) = scim(
            &server,
            &token,
            "GET",
            "/Users?startIndex=2&count=1&attributes=userName",
            None,
        )
        .await;
        assert_eq!(
            (
                page["totalResults"].as_i64(),
                page["startIndex"].as_i64(),
                page["itemsPerPage"].as_i64()
            ),
            (Some(2), Some(2), Some(1))
        );
        let only = &page["Resources"][0];
        assert!(
            only.get("userName").is_some()
                && only.get("id").is_some()
                && only.get("meta").is_none(),
            "{only}"
        );
        let (_, found, _) = scim(
            &server,
            &token,
            "POST",
            "/Users/.search",
            Some(json!({"filter": "userName sw \"bj\"", "excludedAttributes": ["emails"]})),
        )
        .await;
        assert_eq!(found["totalResults"], 1);
        assert!(found["Resources"][0].get("emails").is_none());

        // PATCH and PUT.
        let (status, patched, _) = scim(
            &server,
            &token,
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch(json!([
                {"op": "replace", "path": "name.givenName", "value": "Babs"},
                {"op": "add", "path": "displayName", "value": "Babs Jensen"},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "babs@example.com"},
            ]))),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["name"]["givenName"], "Babs");
        assert_eq!(patched["emails"][0]["value"], "babs@example.com");
        assert_ne!(patched["meta"]["version"], created["meta"]["version"]);
        assert_eq!(
            server
                .state
                .store
                .user_by_id(account.id)
                .await
                .unwrap()
                .unwrap()
                .name,
            "Babs Jensen"
        );
        let mut replaced = user.clone();
        replaced["userName"] = json!("barbara.jensen@example.com");
        let (status, put, _) = scim(
            &server,
            &token,
            "PUT",
            &format!("/Users/{id}"),
            Some(replaced),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{put}");
        assert!(
            put.get("displayName").is_none(),
            "PUT replaces the whole resource"
        );
        assert_eq!(
            server
                .state
                .store
                .user_by_id(account.id)
                .await
                .unwrap()
                .unwrap()
                .email,
            "barbara.jensen@example.com"
        );
        let (status, _, _) = server
            .http
            .request(
                reqwest::Method::PUT,
                server.url(&format!("/scim/v2/Users/{id}")),
            )
            .bearer_auth(&token)
            .header("If-Match", "W/\"stale\"")
            .json(&user)
            .send()
            .await
            .map(|r| (r.status(), (), ()))
            .unwrap();
        assert_eq!(status, StatusCode::PRECONDITION_FAILED);

        // Deactivation through SCIM closes the user's socket within a second.
        let (mut socket, _) = server.socket(&alice, None).await;
        let started = Instant::now();
        let (status, body, _) = scim(
            &server,
            &token,
            "PATCH",
            &format!("/Users/{}", alice.id),
            Some(patch(
                json!([{"op": "replace", "value": {"active": false}}]),
            )),
        )
        .await;
        assert_eq!(
            (status, &body["active"]),
            (StatusCode::OK, &json!(false)),
            "{body}"
        );
        let closed = closed_within(&mut socket, Duration::from_secs(3))
            .await
            .expect("the socket was not closed");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "closed after {closed:?}"
        );
        let (status, _) = server
            .call("GET", "/api/v1/me", Some(&alice.token), None)
            .await;
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN,
            "{status}"
        );
        let (status, _) = server
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "alice@example.com", "password": "long enough password"})),
            )
            .await;
        assert!(!status.is_success(), "a deactivated user cannot sign in");
        // ... and reactivation lets them sign in again.
        let (_, body, _) = scim(
            &server,
            &token,
            "PATCH",
            &format!("/Users/{}", alice.id),
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": true}]),
            )),
        )
        .await;
        assert_eq!(body["active"], true);
        let (status, _) = server
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "alice@example.com", "password": "long enough password"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);

        // DELETE deactivates and hides the account; its record stays.
        let (status, _, _) = scim(&server, &token, "DELETE", &format!("/Users/{id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            scim(&server, &token, "GET", &format!("/Users/{id}"), None)
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            scim(&server, &token, "DELETE", &format!("/Users/{id}"), None)
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        let kept = server
            .state
            .store
            .user_by_id(account.id)
            .await
            .unwrap()
            .unwrap();
        assert!(!kept.active);
        let (_, list, _) = scim(&server, &token, "GET", "/Users", None).await;
        assert!(
            list["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["id"] != json!(id))
        );
        // Provisioning the same person again brings the account back.
        let (status, again, _) = scim(
            &server,
            &token,
            "POST",
            "/Users",
            Some(json!({"userName": "Barbara.Jensen@example.com"})),
        )
        .await;
        assert_eq!(
            (status, again["id"].as_str()),
            (StatusCode::CREATED, Some(id.as_str()))
        );
        assert!(
            server
                .state
                .store
                .user_by_id(account.id)
                .await
                .unwrap()
                .unwrap()
                .active
        );

        // Every change is audited as the SCIM token ("scim:token-N").
        let entries = server
            .state
            .store
            .audit_entries(conclave_domain::AuditFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        let scim_actions: Vec<&str> = entries
            .iter()
            .filter(|e| e.actor_label.starts_with("scim:token-"))
            .map(|e| e.action.as_str())
            .collect();
        for action in [
            "scim.user.create",
            "scim.user.patch",
            "scim.user.replace",
            "scim.user.delete",
            "user.deactivate",
            "user.reactivate",
        ] {
            assert!(
                scim_actions.contains(&action),
                "{action} missing from {scim_actions:?}"
            );
        }
        let deactivation = entries
            .iter()
            .find(|e| e.action == "user.deactivate" && e.target_id == Some(alice.id.to_string()))
            .unwrap();
        assert!(deactivation.before.is_some() && deactivation.after.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_departments_feed_channels_through_rules() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let token = scim_token(&server).await;
        let owner = server.person("owner", Role::Owner).await;
        let ann = server.person("ann", Role::Member).await;
        let ben = server.person("ben", Role::Member).await;
        let platform_channel = make_channel(&server, &owner, "platform", "private").await;
        let sales_channel = make_channel(&server, &owner, "sales-floor", "public").await;

        // A SCIM group is a team.
        let (status, group, _) = scim(
            &server,
            &token,
            "POST",
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Platform", "members": [{"value": ann.id.to_string()}]})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{group}");
        let group_id = group["id"].as_str().unwrap().to_string();
        assert_eq!(group["members"][0]["value"], ann.id.to_string());
        let (status, body, _) = scim(
            &server,
            &token,
            "POST",
            "/Groups",
            Some(json!({"displayName": "platform"})),
        )
        .await;
        assert_eq!(
            (status, body["scimType"].as_str()),
            (StatusCode::CONFLICT, Some("uniqueness"))
        );
        let (status, body, _) = scim(
            &server,
            &token,
            "POST",
            "/Groups",
            Some(json!({"displayName": "X", "members": [{"value": "424242"}]})),
        )
        .await;
        assert_eq!(
            (status, body["scimType"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalidValue"))
        );
        let team = server
            .state
            .store
            .org_unit_by_name(OrgUnitKind::Team, "platform")
            .await
            .unwrap()
            .unwrap();

        // A rule adds the team's current members at once...
        let (status, rule) = server
            .call(
                "POST",
                "/api/v1/admin/auto-membership-rules",
                Some(&owner.token),
                Some(json!({"unit_id": team.id, "channel_id": platform_channel})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{rule}");
        assert!(
            channel_members(&server, platform_channel)
                .await
                .contains(&ann.id)
        );
        // ... and later members as they join, live.
        let (mut ben_socket, _) = server.socket(&ben, None).await;
        let (status, body, _) = scim(
            &server,
            &token,
            "PATCH",
            &format!("/Groups/{group_id}"),
            Some(patch(
                json!([{"op": "add", "path": "members", "value": [{"value": ben.id.to_string()}]}]),
            )),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let joined = next_event(&mut ben_socket, "member_joined").await;
        assert_eq!(joined["event"]["channel_id"], platform_channel);
        // Leaving the team leaves the channel.
        let (status, body, _) = scim(
            &server,
            &token,
            "PATCH",
            &format!("/Groups/{group_id}"),
            Some(patch(
                json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ann.id)}]),
            )),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["members"].as_array().unwrap().len(), 1);
        assert_eq!(channel_members(&server, platform_channel).await, {
            let mut expected = vec![owner.id, ben.id];
            expected.sort_unstable();
            expected
        });
        // The user resource lists its teams.
        let (_, ben_scim, _) =
            scim(&server, &token, "GET", &format!("/Users/{}", ben.id), None).await;
        assert_eq!(ben_scim["groups"][0]["value"], json!(group_id));

        // The enterprise department attribute makes a department.
        let (_, body, _) = scim(
            &server,
            &token,
            "PATCH",
            &format!("/Users/{}", ann.id),
            Some(patch(json!([{"op": "add", "path": format!("{ENTERPRISE}:department"), "value": "Sales"}]))),
        )
        .await;
        assert_eq!(body[ENTERPRISE]["department"], "Sales", "{body}");
        let departments = server
            .ok("GET", "/api/v1/admin/departments", &owner, None)
            .await;
        let sales = departments
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == "Sales")
            .unwrap()
            .clone();
        assert_eq!(sales["member_count"], 1);
        server
            .ok(
                "POST",
                "/api/v1/admin/auto-membership-rules",
                &owner,
                Some(json!({"unit_id": sales["id"], "channel_id": sales_channel})),
            )
            .await;
        assert!(
            channel_members(&server, sales_channel)
                .await
                .contains(&ann.id)
        );
        // Admins add people to departments too.
        server
            .ok(
                "PUT",
                &format!(
                    "/api/v1/admin/departments/{}/members/{}",
                    sales["id"], ben.id
                ),
                &owner,
                None,
            )
            .await;
        assert!(
            eventually(|| async {
                channel_members(&server, sales_channel)
                    .await
                    .contains(&ben.id)
            })
            .await
        );
        // Moving departments moves channels.
        scim(
            &server,
            &token,
            "PATCH",
            &format!("/Users/{}", ann.id),
            Some(patch(json!([{"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Operations"}]))),
        )
        .await;
        assert!(
            !channel_members(&server, sales_channel)
                .await
                .contains(&ann.id)
        );
        // Deleting the team removes what only it gave.
        assert_eq!(
            scim(
                &server,
                &token,
                "DELETE",
                &format!("/Groups/{group_id}"),
                None
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
        assert!(
            !channel_members(&server, platform_channel)
                .await
                .contains(&ben.id)
        );
        assert_eq!(
            scim(&server, &token, "GET", &format!("/Groups/{group_id}"), None)
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert!(
            server
                .state
                .store
                .auto_membership_rules()
                .await
                .unwrap()
                .iter()
                .all(|rule| rule.unit_id != team.id)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_see_only_their_channels_and_expire() {
    let server = start(Backend::Sqlite, |_| {}).await;
    let admin = server.person("admin", Role::Admin).await;
    let member = server.person("member", Role::Member).await;
    let invited = make_channel(&server, &admin, "project-x", "private").await;
    let public = make_channel(&server, &admin, "general", "public").await;
    let expires_at = conclave_server::now_millis() + 3_600_000;
    let (status, guest) = server
        .call(
            "POST",
            "/api/v1/admin/guests",
            Some(&admin.token),
            Some(json!({"email": "vendor@partner.example", "name": "Vendor", "password": "long enough password", "expires_at": expires_at, "channel_ids": [invited]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{guest}");
    assert_eq!(
        (guest["role"].as_str(), guest["expires_at"].as_i64()),
        (Some("guest"), Some(expires_at))
    );
    let (status, _) = server
        .call("POST", "/api/v1/admin/guests", Some(&member.token), Some(json!({"email": "x@partner.example", "name": "X", "expires_at": expires_at, "channel_ids": [invited]})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server
        .call("POST", "/api/v1/admin/guests", Some(&admin.token), Some(json!({"email": "y@partner.example", "name": "Y", "expires_at": 1, "channel_ids": [invited]})))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an expiry in the past is refused"
    );
    let (status, login) = server
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "vendor@partner.example", "password": "long enough password"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let guest_person = Person {
        id: guest["id"].as_i64().unwrap(),
        token: login["token"].as_str().unwrap().to_string(),
    };

    // Their channel works; nothing else is reachable.
    server
        .ok(
            "POST",
            &format!("/api/v1/channels/{invited}/messages"),
            &guest_person,
            Some(json!({"text": "hello from outside"})),
        )
        .await;
    let sidebar = server
        .ok("GET", "/api/v1/channels", &guest_person, None)
        .await;
    let ids: Vec<i64> = sidebar
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["channel"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![invited]);
    assert_eq!(
        server
            .ok("GET", "/api/v1/channels/browse", &guest_person, None)
            .await,
        json!([])
    );
    for (method, path, body) in [
        ("POST", format!("/api/v1/channels/{public}/join"), None),
        ("GET", format!("/api/v1/channels/{public}/messages"), None),
        (
            "POST",
            "/api/v1/channels".to_string(),
            Some(json!({"name": "guest-room", "kind": "public"})),
        ),
        (
            "POST",
            "/api/v1/conversations".to_string(),
            Some(json!({"user_ids": [member.id]})),
        ),
        (
            "POST",
            format!("/api/v1/channels/{invited}/members"),
            Some(json!({"user_id": member.id})),
        ),
    ] {
        let (status, body) = server
            .call(method, &path, Some(&guest_person.token), body)
            .await;
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
            "{method} {path}: {status} {body}"
        );
    }
    // A direct message with someone they share a channel with is fine.
    server
        .ok(
            "POST",
            "/api/v1/conversations",
            &guest_person,
            Some(json!({"user_ids": [admin.id]})),
        )
        .await;

    // Expiry: nothing happens before the date, everything stops after it.
    let (mut socket, _) = server.socket(&guest_person, None).await;
    let state = &server.state;
    assert!(
        conclave_server::scim::directory::expire_accounts(state, expires_at - 1)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        conclave_server::scim::directory::expire_accounts(state, expires_at)
            .await
            .unwrap(),
        vec![guest_person.id]
    );
    assert!(
        closed_within(&mut socket, Duration::from_secs(1))
            .await
            .is_some(),
        "the guest's socket closes on expiry"
    );
    let (status, _) = server
        .call("GET", "/api/v1/channels", Some(&guest_person.token), None)
        .await;
    assert!(status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN);
    let entries = state
        .store
        .audit_entries(conclave_domain::AuditFilter {
            action: Some("user.expire".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    // The admin can extend and reactivate.
    let later = conclave_server::now_millis() + 7_200_000;
    let body = server
        .ok(
            "PUT",
            &format!("/api/v1/admin/users/{}/expiry", guest_person.id),
            &admin,
            Some(json!({"expires_at": later})),
        )
        .await;
    assert_eq!(body["expires_at"], later);
    let body = server
        .ok(
            "POST",
            &format!("/api/v1/admin/users/{}/reactivate", guest_person.id),
            &admin,
            None,
        )
        .await;
    assert_eq!(body["active"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_list_change_roles_deactivate_and_reactivate() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let owner = server.person("owner", Role::Owner).await;
        let admin = server.person("admin", Role::Admin).await;
        let officer = server.person("officer", Role::Compliance).await;
        let member = server.person("member", Role::Member).await;
        let other_admin = server.person("admin2", Role::Admin).await;

        // Role changes: admins handle non-admins; only owners touch admins.
        let body = server
            .ok(
                "PUT",
                &format!("/api/v1/admin/users/{}/role", member.id),
                &admin,
                Some(json!({"role": "compliance"})),
            )
            .await;
        assert_eq!(body["role"], "compliance");
        for (who, target, role) in [
            (&admin, member.id, "admin"),
            (&admin, other_admin.id, "member"),
            (&admin, owner.id, "member"),
            (&admin, admin.id, "owner"),
            (&officer, member.id, "member"),
            (&owner, owner.id, "member"),
        ] {
            let (status, body) = server
                .call(
                    "PUT",
                    &format!("/api/v1/admin/users/{target}/role"),
                    Some(&who.token),
                    Some(json!({"role": role})),
                )
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{target} -> {role}: {body}");
        }
        let (status, _) = server
            .call(
                "PUT",
                &format!("/api/v1/admin/users/{}/role", member.id),
                Some(&owner.token),
                Some(json!({"role": "king"})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        server
            .ok(
                "PUT",
                &format!("/api/v1/admin/users/{}/role", other_admin.id),
                &owner,
                Some(json!({"role": "member"})),
            )
            .await;
        let role_change = server
            .ok("GET", "/api/v1/audit?action=user.role", &owner, None)
            .await;
        assert_eq!(role_change[0]["before"], json!({"role": "admin"}));
        assert_eq!(role_change[0]["after"], json!({"role": "member"}));

        // Deactivation cuts the socket within a second; reactivation restores sign-in.
        let (mut socket, _) = server.socket(&member, None).await;
        let started = Instant::now();
        let body = server
            .ok(
                "POST",
                &format!("/api/v1/admin/users/{}/deactivate", member.id),
                &admin,
                None,
            )
            .await;
        assert_eq!(body["active"], false);
        closed_within(&mut socket, Duration::from_secs(2))
            .await
            .expect("socket closed");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        let (status, _) = server
            .call(
                "POST",
                &format!("/api/v1/admin/users/{}/deactivate", owner.id),
                Some(&admin.token),
                None,
            )
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "admins do not deactivate owners"
        );
        let inactive = server
            .ok("GET", "/api/v1/admin/users?active=false", &officer, None)
            .await;
        let ids: Vec<i64> = inactive
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![member.id]);
        let found = server
            .ok(
                "GET",
                "/api/v1/admin/users?q=ADMIN&role=admin",
                &owner,
                None,
            )
            .await;
        assert_eq!(found.as_array().unwrap().len(), 1);
        let page = server
            .ok(
                "GET",
                &format!("/api/v1/admin/users?after={}&limit=2", owner.id),
                &owner,
                None,
            )
            .await;
        assert_eq!(
            page.as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_i64().unwrap())
                .collect::<Vec<_>>(),
            vec![admin.id, officer.id]
        );
        server
            .ok(
                "POST",
                &format!("/api/v1/admin/users/{}/reactivate", member.id),
                &admin,
                None,
            )
            .await;
        let (status, _) = server
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "member@example.com", "password": "long enough password"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = server
            .call("GET", "/api/v1/me", Some(&member.token), None)
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "old sessions stay revoked"
        );
        let audit = server
            .ok(
                "GET",
                &format!("/api/v1/audit?target_id={}", member.id),
                &owner,
                None,
            )
            .await;
        let actions: Vec<&str> = audit
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert!(
            actions.contains(&"user.deactivate") && actions.contains(&"user.reactivate"),
            "{actions:?}"
        );
    }
}

/// docs/permissions.md, walked: every role against every sensitive
/// endpoint, allowed (2xx) or refused (403; 404 where existence is hidden;
/// 401 for SCIM with a user's token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_permission_matrix_holds() {
    let server = start(Backend::Sqlite, |_| {}).await;
    let founder = server.person("founder", Role::Owner).await;
    let roles = [
        Role::Owner,
        Role::Admin,
        Role::Compliance,
        Role::Member,
        Role::Guest,
    ];
    let mut people = Vec::new();
    for role in roles {
        people.push((
            role,
            server.person(&format!("as_{}", role.as_str()), role).await,
        ));
    }
    // A channel everyone is in, with a message by the founder.
    let shared = make_channel(&server, &founder, "shared", "public").await;
    for (_, person) in &people {
        server
            .ok(
                "POST",
                &format!("/api/v1/channels/{shared}/members"),
                &founder,
                Some(json!({"user_id": person.id})),
            )
            .await;
    }

    use Role::{Admin, Compliance, Member, Owner};
    type Case = (
        &'static str,
        &'static str,
        String,
        Option<Value>,
        &'static [Role],
        StatusCode,
    );
    let mut counter = 0;
    for (role, person) in &people {
        // Fresh targets per role, so one role's allowed change does not
        // decide the next role's case.
        counter += 1;
        let target = server
            .person(&format!("target{counter}"), Role::Member)
            .await;
        let admin_target = server
            .person(&format!("admintarget{counter}"), Role::Admin)
            .await;
        let message = server
            .ok(
                "POST",
                &format!("/api/v1/channels/{shared}/messages"),
                &founder,
                Some(json!({"text": "quarterly numbers"})),
            )
            .await;
        let message_id = message["id"].as_i64().unwrap();
        let department = server
            .ok(
                "POST",
                "/api/v1/admin/departments",
                &founder,
                Some(json!({"name": format!("Finance {counter}")})),
            )
            .await;
        let department_id = department["id"].as_i64().unwrap();
        let cases: Vec<Case> = vec![
            (
                "create user",
                "POST",
                "/api/v1/users".into(),
                Some(
                    json!({"email": format!("new{counter}@example.com"), "name": "New", "password": "long enough password"}),
                ),
                &[Owner, Admin],
                StatusCode::FORBIDDEN,
            ),
            (
                "list every account",
                "GET",
                "/api/v1/admin/users".into(),
                None,
                &[Owner, Admin, Compliance],
                StatusCode::FORBIDDEN,
            ),
            (
                "change a member's role",
                "PUT",
                format!("/api/v1/admin/users/{}/role", target.id),
                Some(json!({"role": "compliance"})),
                &[Owner, Admin],
                StatusCode::FORBIDDEN,
            ),
            (
                "change an admin's role",
                "PUT",
                format!("/api/v1/admin/users/{}/role", admin_target.id),
                Some(json!({"role": "member"})),
                &[Owner],
                StatusCode::FORBIDDEN,
            ),
            (
                "set an account's expiry",
                "PUT",
                format!("/api/v1/admin/users/{}/expiry", target.id),
                Some(json!({"expires_at": conclave_server::now_millis() + 86_400_000})),
                &[Owner, Admin],
                StatusCode::FORBIDDEN,
            ),
            (
                "deactivate a member",
                "POST",
                format!("/api/v1/admin/users/{}/deactivate", target.id),
                None,
                &[Owner, Admin],
                StatusCode::FORBIDDEN,
            ),
            (
                "reactivate a member",
                "POST",
                format!("/api/v1/admin/users/{}/reactivate", target.id),
                None,
                &[Owner, Admin],
                StatusCode::FORBIDDEN,
            ),
            (
                "deactivate an admin",
                "POST",
                format!("/api/v1/admin/users/{}/deactivate", admin_target.id),
                None,
                &[Owner],
                StatusCode::FORBIDDEN,
            ),
            (
                "invite a guest",
                "POST",
                "/api/v1/admin/guests".into(),
                Some(
                    json!({"email": format!("guest{counter}@partner.example"), "name": "G", "expires_at": conclave_server::now_millis() + 86_400_000, "channel_ids": [shared]}),
                ),
                &[Owner, Admin],
                StatusCode::FORBIDDEN,
            ),
            (
                "create a department",
                "POST",
                "/api/v1/admin/departments".into(),
                Some(json!({"name": format!("Dept {counter}")})),
                &[Owner, Admin],
                StatusCode::FORBIDDEN,
            ),
            (
                "add a department member",
                "PUT",
                format!(
                    "/api/v1/admin/departments/{department_id}/members/{}",
                    target.id
                ),
                None,
                &[Owner, Admin],
                StatusCode::FORBIDDEN,
            ),
            (
                "create an auto-membership rule",
                "POST",
                "/api/v1/admin/auto-membership-rules".into(),
                Some(json!({"unit_id": department_id, "channel_id": shared})),
                &[Owner, Admin],
                StatusCode::FORBIDDEN,
            ),
            (
                "create a SCIM token",
                "POST",
                "/api/v1/admin/scim-tokens".into(),
                Some(json!({"name": "idp"})),
                &[Owner, Admin],
                StatusCode::FORBIDDEN,
            ),
            (
                "read the audit log",
                "GET",
                "/api/v1/audit".into(),
                None,
                &[Owner, Admin, Compliance],
                StatusCode::FORBIDDEN,
            ),
            (
                "export the audit log",
                "GET",
                "/api/v1/audit/export".into(),
                None,
                &[Owner, Admin, Compliance],
                StatusCode::FORBIDDEN,
            ),
            (
                "SCIM with a user's token",
                "GET",
                "/scim/v2/Users".into(),
                None,
                &[],
                StatusCode::UNAUTHORIZED,
            ),
            (
                "create a channel",
                "POST",
                "/api/v1/channels".into(),
                Some(json!({"name": format!("room-{counter}"), "kind": "public"})),
                &[Owner, Admin, Compliance, Member],
                StatusCode::FORBIDDEN,
            ),
            (
                "add a channel member",
                "POST",
                format!("/api/v1/channels/{shared}/members"),
                Some(json!({"user_id": target.id})),
                &[Owner, Admin, Compliance, Member],
                StatusCode::FORBIDDEN,
            ),
            (
                "read another author's edit history",
                "GET",
                format!("/api/v1/messages/{message_id}/versions"),
                None,
                &[Owner, Compliance],
                StatusCode::NOT_FOUND,
            ),
            (
                "delete another author's message",
                "DELETE",
                format!("/api/v1/messages/{message_id}"),
                None,
                &[Owner, Admin],
                StatusCode::FORBIDDEN,
            ),
        ];
        for (name, method, path, body, allowed, refused) in cases {
            let (status, answer) = server.call(method, &path, Some(&person.token), body).await;
            if allowed.contains(role) {
                assert!(
                    status.is_success(),
                    "{role:?} may {name}: {method} {path} -> {status} {answer}"
                );
            } else {
                assert_eq!(
                    status, refused,
                    "{role:?} may not {name}: {method} {path} -> {answer}"
                );
            }
        }
    }
}
