//! Privilege gaps an outside probe found (issue 11), each reproduced over
//! real HTTP and WebSocket: side doors into private channels (rules, guest
//! invitations, unit membership, SCIM, archives), other authors' edit
//! history, private channel names, the guest directory and presence, guest
//! expiry and owners' sessions. docs/permissions.md states the rules.

use super::*;
use conclave_domain::external::WhatsAppImportChannel;

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

fn add_members(ids: &[i64]) -> Value {
    let values: Vec<Value> = ids
        .iter()
        .map(|id| json!({"value": id.to_string()}))
        .collect();
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": values}],
    })
}

async fn private_channel(server: &Server, who: &Person, name: &str, members: &[i64]) -> i64 {
    let channel = server
        .ok(
            "POST",
            "/api/v1/channels",
            who,
            Some(json!({"name": name, "kind": "private", "member_ids": members})),
        )
        .await;
    channel["channel"]["id"].as_i64().unwrap()
}

async fn is_member(server: &Server, channel_id: i64, user_id: i64) -> bool {
    server
        .state
        .store
        .membership(channel_id, user_id)
        .await
        .unwrap()
        .is_some()
}

/// Whether `user_id` is a member of `channel_id` once the writer has had
/// time to apply rule-made changes (which it does concurrently).
async fn becomes_member(server: &Server, channel_id: i64, user_id: i64) -> bool {
    for _ in 0..50 {
        if is_member(server, channel_id, user_id).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn department(server: &Server, admin: &Person, name: &str) -> i64 {
    server
        .ok(
            "POST",
            "/api/v1/admin/departments",
            admin,
            Some(json!({"name": name})),
        )
        .await["id"]
        .as_i64()
        .unwrap()
}

async fn sign_in(server: &Server, email: &str, password: &str) -> Person {
    let (status, body) = server
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    Person {
        id: body["user"]["id"].as_i64().unwrap(),
        token: body["token"].as_str().unwrap().to_string(),
    }
}

/// The newest audit entries with this action, as the compliance officer
/// reads them.
async fn audited(server: &Server, reader: &Person, action: &str) -> Vec<Value> {
    server
        .ok(
            "GET",
            &format!("/api/v1/audit?action={action}&limit=100"),
            reader,
            None,
        )
        .await
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_reach_no_private_channel_through_rules_guests_or_departments() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let admin = server.person("admin", Role::Admin).await;
        let insider_admin = server.person("insider", Role::Admin).await;
        let maker = server.person("maker", Role::Member).await;
        let colleague = server.person("colleague", Role::Member).await;
        let secret = private_channel(&server, &maker, "board-room", &[insider_admin.id]).await;
        server
            .ok(
                "POST",
                &format!("/api/v1/channels/{secret}/messages"),
                &maker,
                Some(json!({"text": "the acquisition price"})),
            )
            .await;
        let sales = department(&server, &admin, "Sales").await;

        // A rule or a guest invitation into a private channel the admin is
        // not in: the channel is as unknown as to any outsider.
        let (status, body) = server
            .call(
                "POST",
                "/api/v1/admin/auto-membership-rules",
                Some(&admin.token),
                Some(json!({"unit_id": sales, "channel_id": secret})),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{backend:?}: {body}"
        );
        let expires_at = conclave_server::now_millis() + 86_400_000;
        let (status, body) = server
            .call(
                "POST",
                "/api/v1/admin/guests",
                Some(&admin.token),
                Some(json!({"email": "puppet@partner.example", "name": "Puppet", "password": "long enough password", "expires_at": expires_at, "channel_ids": [secret]})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{backend:?}: {body}");
        assert!(
            server
                .state
                .store
                .user_by_email("puppet@partner.example")
                .await
                .unwrap()
                .is_none(),
            "a refused invitation makes no account"
        );

        // An admin who is a member may make the rule; it adds the unit's
        // current members at once.
        server
            .ok(
                "PUT",
                &format!("/api/v1/admin/departments/{sales}/members/{}", colleague.id),
                &admin,
                None,
            )
            .await;
        let (status, rule) = server
            .call(
                "POST",
                "/api/v1/admin/auto-membership-rules",
                Some(&insider_admin.token),
                Some(json!({"unit_id": sales, "channel_id": secret})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{rule}");
        assert!(becomes_member(&server, secret, colleague.id).await);

        // The outside admin adds themselves to the department: they join
        // it, but not the private channel, and are told which was skipped.
        let detail = server
            .ok(
                "PUT",
                &format!("/api/v1/admin/departments/{sales}/members/{}", admin.id),
                &admin,
                None,
            )
            .await;
        assert!(
            detail["member_ids"]
                .as_array()
                .unwrap()
                .contains(&json!(admin.id))
        );
        assert_eq!(detail["channels_skipped"], json!([secret]), "{detail}");
        // Nor through a puppet whose password they chose.
        let (status, puppet) = server
            .call(
                "POST",
                "/api/v1/users",
                Some(&admin.token),
                Some(json!({"email": "sock@example.com", "name": "Sock", "password": "long enough password"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{puppet}");
        let puppet_id = puppet["id"].as_i64().unwrap();
        server
            .ok(
                "PUT",
                &format!("/api/v1/admin/departments/{sales}/members/{puppet_id}"),
                &admin,
                None,
            )
            .await;
        let sock = sign_in(&server, "sock@example.com", "long enough password").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        for reader in [&admin, &sock] {
            assert!(!is_member(&server, secret, reader.id).await, "{backend:?}");
            let (status, _) = server
                .call(
                    "GET",
                    &format!("/api/v1/channels/{secret}/messages"),
                    Some(&reader.token),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{backend:?}");
        }
        let entries = audited(&server, &insider_admin, "department.member_add").await;
        assert_eq!(
            entries[0]["after"]["channels_skipped"],
            json!([secret]),
            "the audit log says what was skipped"
        );

        // A member of the channel adding someone to the unit carries the
        // rule out.
        let newcomer = server.person("newcomer", Role::Member).await;
        let detail = server
            .ok(
                "PUT",
                &format!("/api/v1/admin/departments/{sales}/members/{}", newcomer.id),
                &insider_admin,
                None,
            )
            .await;
        assert!(detail.get("channels_skipped").is_none(), "{detail}");
        assert!(becomes_member(&server, secret, newcomer.id).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_carries_out_private_rules_only_for_members_and_while_the_maker_stays() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let admin = server.person("admin", Role::Admin).await;
        let insider_admin = server.person("insider", Role::Admin).await;
        let secret = private_channel(&server, &insider_admin, "war-room", &[]).await;
        let operator_token =
            conclave_server::routes::admin::issue_scim_token(&*server.state.store, "idp", None)
                .await
                .unwrap()
                .1;
        let (status, group) = scim(
            &server,
            &operator_token,
            "POST",
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Strategy"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{group}");
        let group_id = group["id"].as_str().unwrap().to_string();
        let team = server
            .state
            .store
            .org_unit_by_name(conclave_domain::directory::OrgUnitKind::Team, "strategy")
            .await
            .unwrap()
            .unwrap();
        server
            .ok(
                "POST",
                "/api/v1/admin/auto-membership-rules",
                &insider_admin,
                Some(json!({"unit_id": team.id, "channel_id": secret})),
            )
            .await;

        // A token the outside admin minted acts as that admin: their
        // puppet, put into the group, does not reach the channel.
        let minted = server
            .ok(
                "POST",
                "/api/v1/admin/scim-tokens",
                &admin,
                Some(json!({"name": "my own idp"})),
            )
            .await;
        let admin_token = minted["secret"].as_str().unwrap().to_string();
        let puppet = server.person("puppet", Role::Member).await;
        let (status, body) = scim(
            &server,
            &admin_token,
            "PATCH",
            &format!("/Groups/{group_id}"),
            Some(add_members(&[puppet.id])),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !is_member(&server, secret, puppet.id).await,
            "{backend:?}: an admin's SCIM token is no side door"
        );

        // The operator's identity provider carries out the rule a member
        // made...
        let hire = server.person("hire", Role::Member).await;
        let (status, body) = scim(
            &server,
            &operator_token,
            "PATCH",
            &format!("/Groups/{group_id}"),
            Some(add_members(&[hire.id])),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(becomes_member(&server, secret, hire.id).await);
        // ... only while that member stays in the channel.
        server
            .ok(
                "POST",
                &format!("/api/v1/channels/{secret}/leave"),
                &insider_admin,
                None,
            )
            .await;
        let late = server.person("late", Role::Member).await;
        let (status, body) = scim(
            &server,
            &operator_token,
            "PATCH",
            &format!("/Groups/{group_id}"),
            Some(add_members(&[late.id])),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!is_member(&server, secret, late.id).await, "{backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_archives_are_reached_only_through_the_compliance_roles() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let owner = server.person("owner", Role::Owner).await;
        let admin = server.person("admin", Role::Admin).await;
        let officer = server.person("officer", Role::Compliance).await;
        let custodian = server.person("custodian", Role::Member).await;
        let reviewer = server.person("reviewer", Role::Member).await;
        let (archive, _) = server
            .state
            .store
            .open_whatsapp_import(WhatsAppImportChannel {
                name: "whatsapp-supplier".into(),
                topic: String::new(),
                custodian_id: Some(custodian.id),
                creator_id: custodian.id,
                member_ids: vec![custodian.id, officer.id],
                at: conclave_server::now_millis(),
            })
            .await
            .unwrap();
        let sales = department(&server, &owner, "Buyers").await;
        // The custodian (a member) cannot pass the archive on; admins do
        // not even see it; no rule or invitation reaches it, even the
        // compliance officer's.
        let add = json!({"user_id": reviewer.id});
        let (status, body) = server
            .call(
                "POST",
                &format!("/api/v1/channels/{}/members", archive.id),
                Some(&custodian.token),
                Some(add.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{backend:?}: {body}");
        let (status, _) = server
            .call(
                "POST",
                "/api/v1/admin/auto-membership-rules",
                Some(&admin.token),
                Some(json!({"unit_id": sales, "channel_id": archive.id})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        server
            .ok(
                "POST",
                &format!("/api/v1/channels/{}/members", archive.id),
                &officer,
                Some(json!({"user_id": owner.id})),
            )
            .await;
        let (status, _) = server
            .call(
                "POST",
                "/api/v1/admin/auto-membership-rules",
                Some(&owner.token),
                Some(json!({"unit_id": sales, "channel_id": archive.id})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{backend:?}");
        // The compliance officer adds a reviewer, on the record.
        let (status, body) = server
            .call(
                "POST",
                &format!("/api/v1/channels/{}/members", archive.id),
                Some(&officer.token),
                Some(add),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        assert!(is_member(&server, archive.id, reviewer.id).await);
        let entries = audited(&server, &officer, "archive.member_add").await;
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(entries[0]["actor_id"], officer.id);
        assert_eq!(entries[0]["target_id"], archive.id.to_string());
        assert_eq!(entries[0]["after"]["user_id"], reviewer.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_authors_edit_history_is_for_compliance_roles_with_a_reason() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let owner = server.person("owner", Role::Owner).await;
        let admin = server.person("admin", Role::Admin).await;
        let officer = server.person("officer", Role::Compliance).await;
        let alice = server.person("alice", Role::Member).await;
        let bob = server.person("bob", Role::Member).await;
        let direct = server
            .ok(
                "POST",
                "/api/v1/conversations",
                &alice,
                Some(json!({"user_ids": [bob.id]})),
            )
            .await["channel"]["id"]
            .as_i64()
            .unwrap();
        let message = server
            .ok(
                "POST",
                &format!("/api/v1/channels/{direct}/messages"),
                &alice,
                Some(json!({"text": "meet at the old place"})),
            )
            .await;
        let id = message["id"].as_i64().unwrap();
        server
            .ok(
                "PATCH",
                &format!("/api/v1/messages/{id}"),
                &alice,
                Some(json!({"text": "see you tomorrow"})),
            )
            .await;
        let path = format!("/api/v1/messages/{id}/versions");

        // The author reads her own history; nobody else outside the
        // compliance roles does, member of the conversation or not.
        let own = server.ok("GET", &path, &alice, None).await;
        assert_eq!(own.as_array().unwrap().len(), 2);
        for outsider in [&bob, &admin] {
            let (status, body) = server.call("GET", &path, Some(&outsider.token), None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{backend:?}: {body}");
        }
        // The compliance roles read it outside their own conversations only
        // with a reason.
        for reader in [&owner, &officer] {
            let (status, body) = server.call("GET", &path, Some(&reader.token), None).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some("validation_failed")),
                "{backend:?}: {body}"
            );
            let (status, body) = server
                .call(
                    "GET",
                    &format!("{path}?reason=%20"),
                    Some(&reader.token),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        }
        let versions = server
            .ok(
                "GET",
                &format!("{path}?reason=case%2042%3A%20harassment%20report"),
                &officer,
                None,
            )
            .await;
        assert_eq!(versions[0]["text"], "meet at the old place");
        let entries = audited(&server, &officer, "message.versions_read").await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        let entry = &entries[0];
        assert_eq!(entry["actor_id"], officer.id);
        assert_eq!(entry["target_id"], id.to_string());
        assert_eq!(entry["after"]["channel_id"], direct);
        assert_eq!(entry["after"]["author_id"], alice.id);
        assert_eq!(entry["after"]["reason"], "case 42: harassment report");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_channel_name_reads_the_same_whatever_holds_it() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let alice = server.person("alice", Role::Member).await;
        let carol = server.person("carol", Role::Member).await;
        private_channel(&server, &alice, "layoffs-2027", &[]).await;
        server
            .ok(
                "POST",
                "/api/v1/channels",
                &alice,
                Some(json!({"name": "general", "kind": "public"})),
            )
            .await;
        let mut answers = Vec::new();
        for name in ["layoffs-2027", "general"] {
            let (status, body) = server
                .call(
                    "POST",
                    "/api/v1/channels",
                    Some(&carol.token),
                    Some(json!({"name": name, "kind": "public"})),
                )
                .await;
            assert_eq!(status, StatusCode::CONFLICT, "{backend:?}: {body}");
            answers.push(body);
        }
        assert_eq!(
            answers[0], answers[1],
            "a private channel's name is refused exactly like a public one's"
        );
        assert!(!answers[0]["message"].as_str().unwrap().contains("layoffs"));
        let room = server
            .ok(
                "POST",
                "/api/v1/channels",
                &carol,
                Some(json!({"name": "carols-room", "kind": "private"})),
            )
            .await["channel"]["id"]
            .as_i64()
            .unwrap();
        let (status, body) = server
            .call(
                "PATCH",
                &format!("/api/v1/channels/{room}"),
                Some(&carol.token),
                Some(json!({"name": "layoffs-2027"})),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body, answers[0], "renaming answers the same");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_see_and_hear_only_people_they_share_a_channel_with() {
    for backend in backends() {
        let server = start(backend, |config| config.websocket.heartbeat_secs = 60).await;
        let admin = server.person("admin", Role::Admin).await;
        let host = server.person("host", Role::Member).await;
        let stranger = server.person("stranger", Role::Member).await;
        let project = private_channel(&server, &admin, "vendor-project", &[host.id]).await;
        let (status, body) = server
            .call(
                "POST",
                "/api/v1/admin/guests",
                Some(&admin.token),
                Some(json!({"email": "vendor@partner.example", "name": "Vendor", "password": "long enough password", "expires_at": conclave_server::now_millis() + 86_400_000, "channel_ids": [project]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let guest = sign_in(&server, "vendor@partner.example", "long enough password").await;

        let found = server.ok("GET", "/api/v1/users?q=", &guest, None).await;
        let mut ids: Vec<i64> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|user| user["id"].as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        let mut expected = vec![admin.id, host.id, guest.id];
        expected.sort_unstable();
        assert_eq!(ids, expected, "{backend:?}: {found}");
        let found = server
            .ok("GET", "/api/v1/users?q=stranger", &guest, None)
            .await;
        assert_eq!(found, json!([]));
        let (status, _) = server
            .call(
                "GET",
                &format!("/api/v1/users/{}", stranger.id),
                Some(&guest.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        server
            .ok("GET", &format!("/api/v1/users/{}", host.id), &guest, None)
            .await;
        // Members still see everyone.
        let found = server
            .ok("GET", "/api/v1/users?q=stranger", &host, None)
            .await;
        assert_eq!(found[0]["id"], stranger.id);

        // Presence: only the people they share a channel with.
        let (_stranger_socket, _) = server.socket(&stranger, None).await;
        let (_host_socket, _) = server.socket(&host, None).await;
        let (mut guest_socket, _) = server.socket(&guest, None).await;
        guest_socket
            .send(WsMessage::text(
                json!({"type": "presence_subscribe", "user_ids": [stranger.id, host.id]})
                    .to_string(),
            ))
            .await
            .unwrap();
        let snapshot = loop {
            let frame = next_frame(&mut guest_socket).await.expect("a snapshot");
            if frame["type"] == "presence_snapshot" {
                break frame;
            }
        };
        assert_eq!(snapshot["online_user_ids"], json!([host.id]), "{backend:?}");

        // Profiles follow the directory: a stranger's status reaches
        // neither the guest's list nor the guest's socket; the host's does.
        for person in [&stranger, &host] {
            server
                .ok(
                    "PATCH",
                    "/api/v1/users/me",
                    person,
                    Some(json!({"status": format!("status of {}", person.id)})),
                )
                .await;
        }
        let updated = loop {
            let frame = next_frame(&mut guest_socket)
                .await
                .expect("a profile update");
            if frame["type"] == "profile_updated" {
                break frame;
            }
        };
        assert_eq!(
            updated["user"]["id"], host.id,
            "{backend:?}: the stranger's change was not announced to the guest"
        );
        let profiles = server.ok("GET", "/api/v1/profiles", &guest, None).await;
        let listed: Vec<i64> = profiles
            .as_array()
            .unwrap()
            .iter()
            .map(|profile| profile["user_id"].as_i64().unwrap())
            .collect();
        assert_eq!(listed, vec![host.id], "{backend:?}: {profiles}");
        let everyone = server.ok("GET", "/api/v1/profiles", &host, None).await;
        assert_eq!(everyone.as_array().unwrap().len(), 2, "{everyone}");
        let (status, _) = server
            .call(
                "GET",
                &format!("/api/v1/users/{}/avatar", stranger.id),
                Some(&guest.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_guest_is_refused_at_once_and_owners_sessions_are_for_owners() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let owner = server.person("owner", Role::Owner).await;
        let admin = server.person("admin", Role::Admin).await;
        let room = private_channel(&server, &admin, "delivery", &[]).await;
        let (status, body) = server
            .call(
                "POST",
                "/api/v1/admin/guests",
                Some(&admin.token),
                Some(json!({"email": "temp@partner.example", "name": "Temp", "password": "long enough password", "expires_at": conclave_server::now_millis() + 86_400_000, "channel_ids": [room]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let guest = sign_in(&server, "temp@partner.example", "long enough password").await;
        server.ok("GET", "/api/v1/channels", &guest, None).await;
        // The expiry passes (set in the store: the API takes only future
        // dates); the next request is refused without waiting for the
        // sweep that deactivates the account.
        server
            .state
            .store
            .set_account_expiry(guest.id, Some(conclave_server::now_millis() - 1))
            .await
            .unwrap();
        let (status, body) = server
            .call("GET", "/api/v1/channels", Some(&guest.token), None)
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("account_deactivated")),
            "{backend:?}: {body}"
        );
        // Nor does the right password open a new session.
        let (status, body) = server
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "temp@partner.example", "password": "long enough password"})),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("account_deactivated")),
            "{backend:?}: an expired account signs in no more: {body}"
        );

        // Admins do not see owners' sessions; owners do.
        let (status, body) = server
            .call(
                "GET",
                &format!("/api/v1/users/{}/sessions", owner.id),
                Some(&admin.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{backend:?}: {body}");
        let sessions = server
            .ok(
                "GET",
                &format!("/api/v1/users/{}/sessions", admin.id),
                &owner,
                None,
            )
            .await;
        assert_eq!(sessions.as_array().unwrap().len(), 1);
    }
}

/// Every indirect way into a private channel the actor is not in, for
/// every role, then the same as a member of it. A row lists the roles that
/// succeed; the others get the status given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_side_door_matrix_holds() {
    use Role::{Admin, Compliance, Guest, Member, Owner};
    let server = start(Backend::Sqlite, |_| {}).await;
    let founder = server.person("founder", Role::Owner).await;
    let roles = [Owner, Admin, Compliance, Member, Guest];
    let general = server
        .ok(
            "POST",
            "/api/v1/channels",
            &founder,
            Some(json!({"name": "general", "kind": "public"})),
        )
        .await["channel"]["id"]
        .as_i64()
        .unwrap();
    for (index, role) in roles.into_iter().enumerate() {
        let actor = server.person(&format!("actor{index}"), role).await;
        // Guests need a channel to exist in; it is not the private one.
        server
            .ok(
                "POST",
                &format!("/api/v1/channels/{general}/members"),
                &founder,
                Some(json!({"user_id": actor.id})),
            )
            .await;
        let target = server.person(&format!("target{index}"), Member).await;
        let outside = private_channel(&server, &founder, &format!("outside-{index}"), &[]).await;
        let inside =
            private_channel(&server, &founder, &format!("inside-{index}"), &[actor.id]).await;
        let message = server
            .ok(
                "POST",
                &format!("/api/v1/channels/{outside}/messages"),
                &founder,
                Some(json!({"text": "board minutes"})),
            )
            .await["id"]
            .as_i64()
            .unwrap();
        let unit = department(&server, &founder, &format!("Unit {index}")).await;
        server
            .ok(
                "POST",
                "/api/v1/admin/auto-membership-rules",
                &founder,
                Some(json!({"unit_id": unit, "channel_id": outside})),
            )
            .await;
        let expires_at = conclave_server::now_millis() + 86_400_000;
        type Row = (
            &'static str,
            &'static str,
            String,
            Option<Value>,
            &'static [Role],
            StatusCode,
        );
        let rows: Vec<Row> = vec![
            (
                "add someone to a private channel one is not in",
                "POST",
                format!("/api/v1/channels/{outside}/members"),
                Some(json!({"user_id": target.id})),
                &[],
                StatusCode::NOT_FOUND,
            ),
            (
                "make a rule into a private channel one is not in",
                "POST",
                "/api/v1/admin/auto-membership-rules".into(),
                Some(json!({"unit_id": unit, "channel_id": outside})),
                &[],
                // Owners and admins learn nothing; others are not admins.
                if role.is_admin() {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::FORBIDDEN
                },
            ),
            (
                "invite a guest into a private channel one is not in",
                "POST",
                "/api/v1/admin/guests".into(),
                Some(
                    json!({"email": format!("g{index}@partner.example"), "name": "G", "password": "long enough password", "expires_at": expires_at, "channel_ids": [outside]}),
                ),
                &[],
                if role.is_admin() {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::FORBIDDEN
                },
            ),
            (
                "read another author's history outside one's conversations, with a reason",
                "GET",
                format!("/api/v1/messages/{message}/versions?reason=audit"),
                None,
                &[Owner, Compliance],
                StatusCode::NOT_FOUND,
            ),
            (
                "export the archive",
                "POST",
                "/api/v1/compliance/exports".into(),
                Some(json!({"format": "jsonl"})),
                &[Owner, Compliance],
                StatusCode::FORBIDDEN,
            ),
            (
                "make a rule into a private channel one is in",
                "POST",
                "/api/v1/admin/auto-membership-rules".into(),
                Some(json!({"unit_id": unit, "channel_id": inside})),
                &[Owner, Admin],
                StatusCode::FORBIDDEN,
            ),
            (
                "invite a guest into a private channel one is in",
                "POST",
                "/api/v1/admin/guests".into(),
                Some(
                    json!({"email": format!("h{index}@partner.example"), "name": "H", "expires_at": expires_at, "channel_ids": [inside]}),
                ),
                &[Owner, Admin],
                StatusCode::FORBIDDEN,
            ),
            (
                "add someone to a private channel one is in",
                "POST",
                format!("/api/v1/channels/{inside}/members"),
                Some(json!({"user_id": target.id})),
                &[Owner, Admin, Compliance, Member],
                StatusCode::FORBIDDEN,
            ),
        ];
        for (name, method, path, body, allowed, refused) in rows {
            let (status, answer) = server.call(method, &path, Some(&actor.token), body).await;
            if allowed.contains(&role) {
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
        // Putting oneself into a unit whose rule feeds the private channel
        // (admins may change units) never opens the channel.
        let (status, _) = server
            .call(
                "PUT",
                &format!("/api/v1/admin/departments/{unit}/members/{}", actor.id),
                Some(&actor.token),
                None,
            )
            .await;
        assert_eq!(status.is_success(), role.is_admin(), "{role:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!is_member(&server, outside, actor.id).await, "{role:?}");
        let (status, _) = server
            .call(
                "GET",
                &format!("/api/v1/channels/{outside}/messages"),
                Some(&actor.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{role:?}");
    }
}
