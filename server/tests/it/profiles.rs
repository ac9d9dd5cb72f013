//! Profiles (issue 21): a display name and status that everyone hears of, and a rename that
//! follows the person into their stored messages, and only theirs.

use app::events::{Event as _, History, ListProfiles, ProfileChanged, SetProfile};
use serde_json::json;

use crate::rooms::{code, data, post, request};
use crate::support::{SioClient, TestServer};

/// The next `profile` event `client` hears.
async fn next_profile(client: &mut SioClient) -> serde_json::Value {
    client.next_event_named(ProfileChanged::NAME).await.1[0].clone()
}

#[tokio::test]
async fn a_profile_is_set_told_to_everyone_and_read_back() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let mut bob = server.client(json!({"name": "bob"})).await;
    let set = data(
        &request(
            &mut ann,
            SetProfile::NAME,
            vec![json!({"displayName": "  Ann\nSmith ", "status": "on holiday"})],
        )
        .await,
    );
    let want = json!({"name": "ann", "displayName": "Ann Smith", "status": "on holiday"});
    assert_eq!(set, want);
    assert_eq!(next_profile(&mut bob).await, want);
    let read = data(
        &request(
            &mut bob,
            ListProfiles::NAME,
            vec![json!({"names": ["ANN", "nobody", "bob"]})],
        )
        .await,
    );
    assert_eq!(read, json!([want, {"name": "bob"}]));
    // Blank clears; too long is refused; guests have no profile.
    let cleared = data(
        &request(
            &mut ann,
            SetProfile::NAME,
            vec![json!({"displayName": " "})],
        )
        .await,
    );
    assert_eq!(cleared, json!({"name": "ann"}));
    let long = request(
        &mut ann,
        SetProfile::NAME,
        vec![json!({"displayName": "x".repeat(65)})],
    )
    .await;
    assert_eq!(code(&long), "too_long");
    let mut guest = server.client(json!({})).await;
    let refused = request(&mut guest, SetProfile::NAME, vec![json!({"status": "hi"})]).await;
    assert_eq!(code(&refused), "name_required");
}

#[tokio::test]
async fn a_rename_follows_the_person_into_their_messages_and_only_theirs() {
    let server = TestServer::start().await;
    let mut ann = server.client(json!({"name": "ann"})).await;
    let token = ann.session.clone().unwrap()["token"].clone();
    let mut bob = server.client(json!({"name": "bob"})).await;
    post(&mut ann, "lobby", "before the rename").await;
    post(&mut bob, "lobby", "bob's own").await;
    drop(ann);

    let renamed = server.client(json!({"token": token, "name": "anna"})).await;
    assert_eq!(renamed.session.as_ref().unwrap()["name"], "anna");
    let told = next_profile(&mut bob).await;
    assert_eq!(
        (&told["name"], &told["renamedFrom"]),
        (&json!("anna"), &json!("ann"))
    );
    // Someone else takes the old name: their messages are theirs, under it.
    let mut new_ann = server.client(json!({"name": "ann"})).await;
    post(&mut new_ann, "lobby", "a different ann").await;
    let page = data(&request(&mut bob, History::NAME, vec![json!({"room": "lobby"})]).await);
    let authors: Vec<(String, String)> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m[2]["kind"].is_null())
        .map(|m| {
            (
                m[0].as_str().unwrap().to_owned(),
                m[2]["author"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("before the rename", "anna"),
        ("bob's own", "bob"),
        ("a different ann", "ann"),
    ]
    .map(|(t, a)| (t.to_owned(), a.to_owned()));
    assert_eq!(authors, want);
    // A client that reconnects is replayed the new name too.
    let mut late = server
        .client(json!({"name": "cy", "serverOffset": 0}))
        .await;
    let (_, first) = late.next_event_named("chat message").await;
    assert_eq!(
        (&first[0], &first[2]["author"]),
        (&json!("before the rename"), &json!("anna"))
    );
}

#[tokio::test]
async fn a_picture_is_uploaded_by_its_person_served_as_an_image_and_removed() {
    use crate::support::http_request;
    let server = TestServer::start().await;
    let ann = server.client(json!({"name": "ann"})).await;
    let token = ann.session.clone().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut bob = server.client(json!({"name": "bob"})).await;
    let auth = format!("Authorization: Bearer {token}\r\n");
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR a tiny picture".to_vec();

    let nobody = http_request(server.addr, "POST", "/avatar", "", &png).await;
    assert_eq!(nobody.status, 401, "{}", nobody.body);
    let svg = http_request(
        server.addr,
        "POST",
        "/avatar",
        &auth,
        b"<svg onload=alert(1)/>",
    )
    .await;
    assert_eq!(
        (svg.status, svg.json()["error"].as_str()),
        (415, Some("not_an_image"))
    );
    let huge = vec![0xFF; app::events::MAX_AVATAR_BYTES + 1];
    assert_eq!(
        http_request(server.addr, "POST", "/avatar", &auth, &huge)
            .await
            .status,
        413
    );
    let foreign = format!("{auth}Origin: http://evil.example\r\n");
    assert_eq!(
        http_request(server.addr, "POST", "/avatar", &foreign, &png)
            .await
            .status,
        403
    );

    let set = http_request(server.addr, "POST", "/avatar", &auth, &png).await;
    assert_eq!(set.status, 200, "{}", set.body);
    let version = set.json()["avatar"].as_i64().expect("a version");
    let told = next_profile(&mut bob).await;
    assert_eq!(
        (&told["name"], told["avatar"].as_i64()),
        (&json!("ann"), Some(version))
    );
    let shown = http_request(
        server.addr,
        "GET",
        &format!("/avatars/ANN?v={version}"),
        "",
        b"",
    )
    .await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.header("content-type"), Some("image/png"));
    assert!(
        shown.body.ends_with("IHDR a tiny picture"),
        "{:?}",
        shown.body
    );
    assert!(shown.header("content-security-policy").is_some());

    let removed = http_request(server.addr, "DELETE", "/avatar", &auth, b"").await;
    assert_eq!(removed.status, 200);
    assert!(removed.json().get("avatar").is_none());
    assert_eq!(
        http_request(server.addr, "GET", "/avatars/ann", "", b"")
            .await
            .status,
        404
    );
}
