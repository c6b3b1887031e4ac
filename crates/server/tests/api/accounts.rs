//! A person's own account over real HTTP and WebSocket: changing one's
//! password, one-time resets from an administrator, profiles with photos,
//! erasure reaching open screens, and why a signed-out person was signed
//! out.

use super::*;

async fn login(server: &Server, email: &str, password: &str) -> (StatusCode, Value) {
    server
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await
}

/// Waits for the socket to be closed by the server; answers the code.
async fn closed_with(socket: &mut Socket) -> u16 {
    loop {
        match tokio::time::timeout(Duration::from_secs(2), socket.next()).await {
            Ok(Some(Ok(WsMessage::Close(Some(frame))))) => return u16::from(frame.code),
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// The next frame of this type, skipping others.
async fn next_of_type(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let frame = next_frame(socket)
            .await
            .unwrap_or_else(|| panic!("socket ended before a {kind} frame"));
        if frame["type"] == kind {
            return frame;
        }
    }
}

async fn audit_actions(server: &Server, admin: &Person, target: i64) -> Vec<String> {
    let entries = server
        .ok(
            "GET",
            &format!("/api/v1/audit?target_kind=user&target_id={target}"),
            admin,
            None,
        )
        .await;
    let list = entries
        .as_array()
        .or_else(|| entries["entries"].as_array())
        .cloned()
        .unwrap_or_default();
    list.iter()
        .filter_map(|entry| entry["action"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_change_their_password_and_may_sign_out_everywhere_else() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let owner = server.person("pw_owner", Role::Owner).await;
        let ann = server.person("pw_ann", Role::Member).await;
        let (_, second) = login(&server, "pw_ann@example.com", "long enough password").await;
        let other = Person {
            id: ann.id,
            token: second["token"].as_str().unwrap().to_string(),
        };
        let (mut other_socket, _) = server.socket(&other, None).await;

        let (status, body) = server
            .call(
                "POST",
                "/api/v1/me/password",
                Some(&ann.token),
                Some(json!({"current_password": "wrong password here", "new_password": "a brand new passphrase"})),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("wrong_password")),
            "{backend:?}"
        );
        let (status, body) = server
            .call(
                "POST",
                "/api/v1/me/password",
                Some(&ann.token),
                Some(
                    json!({"current_password": "long enough password", "new_password": "password"}),
                ),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("validation_failed")),
            "the policy applies: {body}"
        );

        let changed = server
            .ok(
                "POST",
                "/api/v1/me/password",
                &ann,
                Some(json!({
                    "current_password": "long enough password",
                    "new_password": "a brand new passphrase",
                    "sign_out_others": true
                })),
            )
            .await;
        assert_eq!(changed["sessions_signed_out"], 1);
        assert_eq!(closed_with(&mut other_socket).await, 4001);
        let (status, _) = server
            .call("GET", "/api/v1/me", Some(&other.token), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        server.ok("GET", "/api/v1/me", &ann, None).await;
        let (status, _) = login(&server, "pw_ann@example.com", "long enough password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the old password is gone");
        let (status, _) = login(&server, "pw_ann@example.com", "a brand new passphrase").await;
        assert_eq!(status, StatusCode::OK);

        // Without sign_out_others, other sessions stay.
        let (_, third) = login(&server, "pw_ann@example.com", "a brand new passphrase").await;
        let changed = server
            .ok(
                "POST",
                "/api/v1/me/password",
                &ann,
                Some(json!({
                    "current_password": "a brand new passphrase",
                    "new_password": "yet another passphrase"
                })),
            )
            .await;
        assert_eq!(changed["sessions_signed_out"], 0);
        let (status, _) = server
            .call(
                "GET",
                "/api/v1/me",
                Some(third["token"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);

        let actions = audit_actions(&server, &owner, ann.id).await;
        assert!(
            actions.iter().any(|a| a == "user.password_change")
                && actions.iter().any(|a| a == "user.password_change_refused"),
            "{actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_issue_one_time_reset_codes_that_people_redeem_themselves() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let owner = server.person("rs_owner", Role::Owner).await;
        let admin = server.person("rs_admin", Role::Admin).await;
        let other_admin = server.person("rs_admin2", Role::Admin).await;
        let bob = server.person("rs_bob", Role::Member).await;
        let (mut bob_socket, _) = server.socket(&bob, None).await;

        // Who may reset whom.
        for (who, target, expected) in [
            (&bob, admin.id, StatusCode::FORBIDDEN),
            (&admin, owner.id, StatusCode::FORBIDDEN),
            (&admin, other_admin.id, StatusCode::FORBIDDEN),
            (&admin, admin.id, StatusCode::FORBIDDEN),
            (&admin, 999_999, StatusCode::NOT_FOUND),
        ] {
            let (status, body) = server
                .call(
                    "POST",
                    &format!("/api/v1/admin/users/{target}/password-reset"),
                    Some(&who.token),
                    None,
                )
                .await;
            assert_eq!(status, expected, "{target}: {body}");
        }

        let (status, first) = server
            .call(
                "POST",
                &format!("/api/v1/admin/users/{}/password-reset", bob.id),
                Some(&admin.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        let first_code = first["code"].as_str().unwrap().to_string();
        assert_eq!(first_code.len(), 19);
        assert_eq!(
            first["link"].as_str().unwrap(),
            format!("/reset-password?code={first_code}")
        );
        let in_a_day = first["expires_at"].as_i64().unwrap() - conclave_server::now_millis();
        assert!(
            (23 * 3_600_000..=24 * 3_600_000).contains(&in_a_day),
            "{in_a_day}"
        );
        assert_eq!(first["sessions_signed_out"], 1);
        assert_eq!(
            closed_with(&mut bob_socket).await,
            4001,
            "signed out at once"
        );
        let (status, _) = server
            .call("GET", "/api/v1/me", Some(&bob.token), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // An owner may reset an admin; a newer code voids the older one.
        let (status, _) = server
            .call(
                "POST",
                &format!("/api/v1/admin/users/{}/password-reset", other_admin.id),
                Some(&owner.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let second = server
            .ok(
                "POST",
                &format!("/api/v1/admin/users/{}/password-reset", bob.id),
                &admin,
                None,
            )
            .await;
        let code = second["code"].as_str().unwrap().to_string();

        let redeem = |code: String, password: &str| json!({"code": code, "new_password": password});
        for (body, expected) in [
            (
                redeem(first_code.clone(), "bob's new passphrase"),
                "invalid_reset_code",
            ),
            (
                redeem("AAAA-BBBB-CCCC-DDDD".into(), "bob's new passphrase"),
                "invalid_reset_code",
            ),
            (redeem(code.clone(), "password"), "validation_failed"),
        ] {
            let (status, answer) = server
                .call("POST", "/api/v1/auth/password-reset", None, Some(body))
                .await;
            assert_eq!(
                (status, answer["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some(expected)),
                "{answer}"
            );
        }
        // Typed in lower case with spaces, as people do.
        let typed = code.to_lowercase().replace('-', " ");
        let redeemed = server
            .call(
                "POST",
                "/api/v1/auth/password-reset",
                None,
                Some(redeem(typed, "bob's new passphrase")),
            )
            .await;
        assert_eq!(redeemed.0, StatusCode::OK, "{}", redeemed.1);
        assert_eq!(redeemed.1["user"]["email"], "rs_bob@example.com");
        let (status, again) = server
            .call(
                "POST",
                "/api/v1/auth/password-reset",
                None,
                Some(redeem(code.clone(), "a third passphrase")),
            )
            .await;
        assert_eq!(
            (status, again["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_reset_code")),
            "single use"
        );
        let (status, _) = login(&server, "rs_bob@example.com", "bob's new passphrase").await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = login(&server, "rs_bob@example.com", "long enough password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        let actions = audit_actions(&server, &owner, bob.id).await;
        assert_eq!(
            actions
                .iter()
                .filter(|a| *a == "user.password_reset")
                .count(),
            2,
            "{actions:?}"
        );
        assert!(
            actions.iter().any(|a| a == "user.password_reset_redeemed"),
            "{actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_reaches_open_screens_and_erased_accounts_stay_closed() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let owner = server.person("er_owner", Role::Owner).await;
        let officer = server.person("er_officer", Role::Compliance).await;
        let leaver = server.person("er_leaver", Role::Member).await;
        let viewer = server.person("er_viewer", Role::Member).await;
        let channel = server
            .ok(
                "POST",
                "/api/v1/channels",
                &owner,
                Some(json!({"name": "erasure-live", "kind": "public"})),
            )
            .await;
        let channel_id = channel["channel"]["id"].as_i64().unwrap();
        for who in [&leaver, &viewer] {
            server
                .ok(
                    "POST",
                    &format!("/api/v1/channels/{channel_id}/join"),
                    who,
                    None,
                )
                .await;
        }
        server
            .ok(
                "POST",
                &format!("/api/v1/channels/{channel_id}/messages"),
                &leaver,
                Some(json!({"text": "something personal"})),
            )
            .await;
        let (mut viewer_socket, _) = server.socket(&viewer, None).await;
        let (mut leaver_socket, _) = server.socket(&leaver, None).await;

        server
            .ok(
                "POST",
                "/api/v1/compliance/erasures",
                &officer,
                Some(json!({"user_id": leaver.id})),
            )
            .await;
        let frame = next_of_type(&mut viewer_socket, "user_erased").await;
        assert_eq!(frame["user"]["id"], leaver.id);
        assert_eq!(
            frame["user"]["name"],
            format!("Erased user {}", leaver.id),
            "the anonymous name, never the old one"
        );
        assert_eq!(closed_with(&mut leaver_socket).await, 4001);

        let (status, body) = server
            .call(
                "POST",
                &format!("/api/v1/admin/users/{}/reactivate", leaver.id),
                Some(&owner.token),
                None,
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::CONFLICT, Some("account_erased")),
            "{body}"
        );
        let (status, body) = server
            .call(
                "POST",
                &format!("/api/v1/admin/users/{}/password-reset", leaver.id),
                Some(&owner.token),
                None,
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::CONFLICT, Some("account_erased")),
            "{body}"
        );
        // A deactivated (not erased) account is reactivated as before.
        let (status, _) = server
            .call(
                "POST",
                &format!("/api/v1/admin/users/{}/deactivate", viewer.id),
                Some(&owner.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = server
            .call(
                "POST",
                &format!("/api/v1/admin/users/{}/reactivate", viewer.id),
                Some(&owner.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_purges_are_announced_to_open_screens() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let officer = server.person("rp_officer", Role::Compliance).await;
        let watcher = server.person("rp_watcher", Role::Member).await;
        let outcome = server
            .state
            .store
            .apply(vec![Command::CreateChannel {
                kind: conclave_domain::ChannelKind::Public,
                name: "old-news".into(),
                topic: String::new(),
                creator_id: watcher.id,
                member_ids: vec![],
                conversation_key: None,
                read_only: false,
                at: 1_000,
            }])
            .await
            .unwrap()
            .remove(0)
            .unwrap();
        let conclave_domain::command::OutcomeValue::Channel(channel) = outcome.result else {
            panic!("expected a channel");
        };
        server
            .state
            .store
            .apply(vec![Command::PostMessage {
                channel_id: channel.id,
                author_id: watcher.id,
                thread_id: None,
                text: "from long ago".into(),
                mentions: vec![],
                attachment_ids: vec![],
                client_id: None,
                at: 2_000,
            }])
            .await
            .unwrap();
        server
            .state
            .store
            .set_retention(
                conclave_domain::compliance::RetentionScope::Global,
                Some(30),
                3_000,
            )
            .await
            .unwrap();
        let (mut socket, _) = server.socket(&watcher, None).await;
        let report = server
            .ok("POST", "/api/v1/compliance/retention/run", &officer, None)
            .await;
        assert_eq!(report["messages"], 1, "{report}");
        let frame = next_of_type(&mut socket, "messages_purged").await;
        assert_eq!(frame["messages"], 1);
        // A run that removes nothing says nothing.
        server
            .ok("POST", "/api/v1/compliance/retention/run", &officer, None)
            .await;
        assert!(
            drain(&mut socket)
                .await
                .iter()
                .all(|frame| frame["type"] != "messages_purged")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_edit_their_name_status_and_photo_and_everyone_sees_them() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let officer = server.person("pf_officer", Role::Compliance).await;
        let ann = server.person("pf_ann", Role::Member).await;
        let ben = server.person("pf_ben", Role::Member).await;
        let (mut ben_socket, _) = server.socket(&ben, None).await;

        let mine = server.ok("GET", "/api/v1/users/me", &ann, None).await;
        assert_eq!(mine["profile"]["status"], "");
        assert_eq!(mine["profile"]["avatar_version"], Value::Null);

        for (body, code) in [
            (json!({"status": "x".repeat(101)}), "validation_failed"),
            (json!({"name": ""}), "validation_failed"),
            (json!({"email": "new@example.com"}), "invalid_request"),
        ] {
            let (status, answer) = server
                .call("PATCH", "/api/v1/users/me", Some(&ann.token), Some(body))
                .await;
            assert_eq!(
                (status, answer["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some(code)),
                "{answer}"
            );
        }
        let updated = server
            .ok(
                "PATCH",
                "/api/v1/users/me",
                &ann,
                Some(json!({"name": "Ann Example", "status": "  On leave until Monday "})),
            )
            .await;
        assert_eq!(updated["user"]["name"], "Ann Example");
        assert_eq!(updated["user"]["email"], "pf_ann@example.com");
        assert_eq!(updated["profile"]["status"], "On leave until Monday");
        let frame = next_of_type(&mut ben_socket, "profile_updated").await;
        assert_eq!(frame["user"]["name"], "Ann Example");
        assert_eq!(frame["profile"]["status"], "On leave until Monday");
        let seen = server
            .ok("GET", &format!("/api/v1/users/{}", ann.id), &ben, None)
            .await;
        assert_eq!(seen["name"], "Ann Example");

        // A photo: any image, cropped square and scaled.
        let put_avatar = |token: &str, bytes: Vec<u8>| {
            server
                .http
                .put(server.url("/api/v1/users/me/avatar"))
                .bearer_auth(token)
                .body(bytes)
                .send()
        };
        let response = put_avatar(&ann.token, b"not an image".to_vec())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let response = put_avatar(&ann.token, png_bytes()).await.unwrap();
        let status = response.status();
        let profile: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{profile}");
        assert!(profile["avatar_version"].is_i64(), "{profile}");
        let frame = next_of_type(&mut ben_socket, "profile_updated").await;
        assert_eq!(
            frame["profile"]["avatar_version"],
            profile["avatar_version"]
        );
        let listed = server.ok("GET", "/api/v1/profiles", &ben, None).await;
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["user_id"] == ann.id && p["avatar_version"].is_i64()),
            "{listed}"
        );
        let avatar = server
            .http
            .get(server.url(&format!("/api/v1/users/{}/avatar", ann.id)))
            .bearer_auth(&ben.token)
            .send()
            .await
            .unwrap();
        assert_eq!(avatar.status(), StatusCode::OK);
        assert_eq!(avatar.headers()["content-type"], "image/jpeg");
        let image = image::load_from_memory(&avatar.bytes().await.unwrap()).unwrap();
        assert_eq!((image.width(), image.height()), (256, 256));
        let (status, _) = server
            .call(
                "GET",
                &format!("/api/v1/users/{}/avatar", ann.id),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, body) = server
            .call(
                "GET",
                &format!("/api/v1/users/{}/avatar", ben.id),
                Some(&ann.token),
                None,
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );

        // Erasure takes the photo and status with it.
        server
            .ok(
                "POST",
                "/api/v1/compliance/erasures",
                &officer,
                Some(json!({"user_id": ann.id})),
            )
            .await;
        let (status, _) = server
            .call(
                "GET",
                &format!("/api/v1/users/{}/avatar", ann.id),
                Some(&ben.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let listed = server.ok("GET", "/api/v1/profiles", &ben, None).await;
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["user_id"] != ann.id),
            "{listed}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_persons_old_token_says_why_it_stopped_working() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let owner = server.person("dx_owner", Role::Owner).await;
        let leaver = server.person("dx_leaver", Role::Member).await;
        let stayer = server.person("dx_stayer", Role::Member).await;
        server
            .ok(
                "POST",
                &format!("/api/v1/admin/users/{}/deactivate", leaver.id),
                &owner,
                None,
            )
            .await;
        let (status, body) = server
            .call("GET", "/api/v1/me", Some(&leaver.token), None)
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("account_deactivated")),
            "{body}"
        );
        server
            .ok("POST", "/api/v1/auth/logout", &stayer, None)
            .await;
        let (status, body) = server
            .call("GET", "/api/v1/me", Some(&stayer.token), None)
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthenticated")),
            "a plain sign-out is not a deactivation"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_join_the_default_channel_once_on_first_sign_in_and_guests_do_not() {
    for backend in backends() {
        let server = start(backend, |config| {
            config.onboarding.default_channel = "Town Square".into();
        })
        .await;
        let first = server.person("gn_first", Role::Owner).await;
        let sidebar = server.ok("GET", "/api/v1/channels", &first, None).await;
        let names: Vec<&str> = sidebar
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|summary| summary["channel"]["name"].as_str())
            .collect();
        assert_eq!(names, ["town-square"], "created on the first sign-in");
        let channel_id = sidebar[0]["channel"]["id"].as_i64().unwrap();
        assert_eq!(sidebar[0]["channel"]["kind"], "public");

        let second = server.person("gn_second", Role::Member).await;
        let guest = server.person("gn_guest", Role::Guest).await;
        let members = server
            .ok(
                "GET",
                &format!("/api/v1/channels/{channel_id}/members"),
                &first,
                None,
            )
            .await;
        let ids: Vec<i64> = members
            .as_array()
            .or_else(|| members["members"].as_array())
            .unwrap()
            .iter()
            .filter_map(|member| member["id"].as_i64().or(member["user"]["id"].as_i64()))
            .collect();
        assert!(
            ids.contains(&first.id) && ids.contains(&second.id),
            "{members}"
        );
        assert!(
            !ids.contains(&guest.id),
            "guests join only what they are invited to"
        );

        // Leaving sticks: the next sign-in does not put them back.
        server
            .ok(
                "POST",
                &format!("/api/v1/channels/{channel_id}/leave"),
                &second,
                None,
            )
            .await;
        let (status, _) = login(&server, "gn_second@example.com", "long enough password").await;
        assert_eq!(status, StatusCode::OK);
        let sidebar = server.ok("GET", "/api/v1/channels", &second, None).await;
        assert!(sidebar.as_array().unwrap().is_empty(), "{sidebar}");
    }
}
