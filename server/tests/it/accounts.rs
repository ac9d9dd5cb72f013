//! Accounts (issue 21): signing up and in on several devices with an HttpOnly cookie, ending
//! a device's session, sign-in limits, the upgrade of names held by token, invites, guests,
//! roles on `/admin`, bans and password resets. Real server, real sockets, both backends.

use app::events::{Admin, Namespace as _};
use palaver_server::{GuestPolicy, SignUpPolicy};
use serde_json::{Value, json};

use crate::support::{HttpReply, Refused, SioClient, TestServer, http_request};

const JSON: &str = "Content-Type: application/json\r\n";

/// `POST path` with a JSON body and extra header lines.
async fn post(server: &TestServer, path: &str, headers: &str, body: Value) -> HttpReply {
    let headers = format!("{JSON}{headers}");
    http_request(
        server.addr,
        "POST",
        path,
        &headers,
        body.to_string().as_bytes(),
    )
    .await
}

/// The `palaver_session=…` pair a reply sets, to send back as a `Cookie` header.
fn cookie_of(reply: &HttpReply) -> String {
    let set = reply
        .header("set-cookie")
        .unwrap_or_else(|| panic!("no cookie set: {} {}", reply.status, reply.body));
    set.split(';').next().unwrap().trim().to_owned()
}

pub(crate) async fn sign_up(server: &TestServer, name: &str, password: &str) -> String {
    let reply = post(
        server,
        "/auth/sign-up",
        "",
        json!({"name": name, "password": password}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    cookie_of(&reply)
}

async fn sign_in(server: &TestServer, name: &str, password: &str) -> HttpReply {
    post(
        server,
        "/auth/sign-in",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n",
        json!({"name": name, "password": password}),
    )
    .await
}

async fn connect(server: &TestServer, cookie: &str) -> SioClient {
    SioClient::connect_with_cookie(server.addr, "/", json!({}), cookie)
        .await
        .expect("a working session is let in")
}

async fn refused_with_cookie(server: &TestServer, ns: &str, cookie: &str) -> String {
    match SioClient::connect_with_cookie(server.addr, ns, json!({}), cookie).await {
        Err(Refused::ConnectError(e)) => e["message"].as_str().unwrap_or_default().to_owned(),
        Ok(_) => panic!("the connection should have been refused"),
    }
}

async fn answer(client: &mut SioClient, event: &str, request: Value) -> Value {
    client.ask(event, vec![request]).await[0].clone()
}

#[tokio::test]
async fn an_account_signs_in_on_every_device_as_one_person_and_the_first_is_the_administrator() {
    let server = TestServer::start().await;
    let first = post(
        &server,
        "/auth/sign-up",
        "",
        json!({"name": "ann", "password": "correct horse"}),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        first.json()["role"],
        "admin",
        "the first account runs the server"
    );
    let set = first.header("set-cookie").unwrap().to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{set} lacks {part}");
    }
    let laptop = cookie_of(&first);
    let bob = post(
        &server,
        "/auth/sign-up",
        "",
        json!({"name": "bob", "password": "battery staple"}),
    )
    .await;
    assert_eq!(bob.json()["role"], "member");

    // Another device signs in with the same name and password: the same person.
    let phone = sign_in(&server, "ANN", "correct horse").await;
    assert_eq!(phone.status, 200, "{}", phone.body);
    assert_eq!(phone.json()["name"], "ann");
    let phone = cookie_of(&phone);
    assert_ne!(phone, laptop, "each device has a session of its own");

    let mut a = connect(&server, &laptop).await;
    let mut b = connect(&server, &phone).await;
    assert_eq!(a.session.as_ref().unwrap()["name"], "ann");
    assert_eq!(b.session.as_ref().unwrap()["role"], "admin");
    // What one device does, the other sees as the same person's.
    let made = answer(&mut a, "create room", json!({"name": "plans"})).await;
    assert!(made.get("data").is_some(), "{made}");
    let sent = b
        .ask(
            "chat message",
            vec![json!("from the phone"), json!("k1"), json!("plans")],
        )
        .await;
    assert!(
        sent[0].get("data").is_some(),
        "the phone is in the laptop's room: {sent:?}"
    );

    let sessions = answer(&mut b, "sessions", json!({})).await;
    let sessions = sessions["data"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device"], "Firefox on Linux");
}

#[tokio::test]
async fn ending_a_session_from_another_device_signs_its_sockets_out_at_once() {
    let server = TestServer::start().await;
    let laptop = sign_up(&server, "ann", "correct horse").await;
    let phone = cookie_of(&sign_in(&server, "ann", "correct horse").await);
    let mut a = connect(&server, &laptop).await;
    let mut b = connect(&server, &phone).await;
    let laptop_id = a.session.as_ref().unwrap()["session"].clone();

    let ended = answer(&mut b, "end session", json!({"id": laptop_id})).await;
    assert_eq!(ended, json!({"data": null}));
    let (_, why) = a.next_event_named("signed out").await;
    assert_eq!(why[0]["reason"], "signed out from another device");
    assert!(a.closed_within(std::time::Duration::from_secs(5)).await);
    assert_eq!(
        refused_with_cookie(&server, "/", &laptop).await,
        "signed_out"
    );

    // The phone goes on, and cannot end what is not its person's.
    let unknown = answer(&mut b, "end session", json!({"id": "0123456789abcdef"})).await;
    assert_eq!(unknown["error"]["code"], "unknown_session");
    let sessions = answer(&mut b, "sessions", json!({})).await;
    assert_eq!(sessions["data"].as_array().unwrap().len(), 1);

    // Signing out ends the session and clears the cookie.
    let out = post(
        &server,
        "/auth/sign-out",
        &format!("Cookie: {phone}\r\n"),
        json!({}),
    )
    .await;
    assert_eq!(out.status, 204);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let (_, why) = b.next_event_named("signed out").await;
    assert_eq!(why[0]["reason"], "signed out");
    assert_eq!(
        refused_with_cookie(&server, "/", &phone).await,
        "signed_out"
    );
    // A cookie of no session at all, or of no session's shape, is refused alike.
    for junk in ["palaver_session=0011.2233", "palaver_session=nonsense"] {
        assert_eq!(refused_with_cookie(&server, "/", junk).await, "signed_out");
    }
}

#[tokio::test]
async fn sign_in_is_limited_per_name_and_an_unknown_name_reads_as_a_wrong_password() {
    let server = TestServer::start().await;
    sign_up(&server, "ann", "correct horse").await;
    let unknown = sign_in(&server, "nobody", "correct horse").await;
    let wrong = sign_in(&server, "ann", "wrong horse").await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.json(), wrong.json(), "no telling which names exist");
    assert_eq!(wrong.json()["error"], "wrong_credentials");
    // The default allows five attempts per name at once; the sixth waits.
    for _ in 0..4 {
        assert_eq!(sign_in(&server, "ann", "wrong horse").await.status, 401);
    }
    let limited = sign_in(&server, "ann", "correct horse").await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_eq!(limited.json()["error"], "too_many_attempts");
    assert!(limited.json()["retryAfterMs"].as_u64().unwrap() > 0);
    assert!(limited.header("set-cookie").is_none());
    // Another name is not held up by ann's.
    sign_up(&server, "bob", "battery staple").await;
    assert_eq!(sign_in(&server, "bob", "battery staple").await.status, 200);
}

#[tokio::test]
async fn sign_in_is_limited_per_address_whatever_the_names() {
    let server = TestServer::start_with(|c| {
        c.sign_in_address_limit =
            palaver_server::Limit::every(3, std::time::Duration::from_secs(600));
    })
    .await;
    for name in ["a1", "a2", "a3"] {
        assert_eq!(sign_in(&server, name, "whatever1").await.status, 401);
    }
    let limited = sign_in(&server, "a4", "whatever1").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["error"], "too_many_attempts");
}

#[tokio::test]
async fn a_name_held_by_token_keeps_working_until_its_password_is_set_and_keeps_its_rooms() {
    let server = TestServer::start().await;
    let mut old = server.client(json!({"name": "carol"})).await;
    let token = old.session.as_ref().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let made = answer(&mut old, "create room", json!({"name": "garden"})).await;
    assert!(made.get("data").is_some(), "{made}");
    drop(old);
    // The token works as before.
    let again = server.client(json!({"token": token})).await;
    assert_eq!(again.session.as_ref().unwrap()["name"], "carol");
    drop(again);

    let weak = post(
        &server,
        "/auth/password",
        "",
        json!({"token": token, "password": "short"}),
    )
    .await;
    assert_eq!(weak.status, 400);
    assert_eq!(weak.json()["error"], "weak_password");
    let set = post(
        &server,
        "/auth/password",
        "",
        json!({"token": token, "password": "carol's garden"}),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.json()["name"], "carol");
    let cookie = cookie_of(&set);
    // The token no longer signs anyone in; the password does, with carol's rooms.
    assert_eq!(
        server.refused(json!({"token": token})).await,
        "sign_in_required"
    );
    let again = post(
        &server,
        "/auth/password",
        "",
        json!({"token": token, "password": "another password"}),
    )
    .await;
    assert_eq!(again.json()["error"], "password_set");
    let mut signed_in = connect(&server, &cookie).await;
    let rooms = signed_in.next_ambient("rooms").await;
    let names: Vec<&str> = rooms["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["room"].as_str())
        .collect();
    assert!(names.contains(&"garden"), "{rooms}");
    assert_eq!(
        sign_in(&server, "carol", "carol's garden").await.status,
        200
    );
    // Nobody takes an account's name, however long it is away.
    assert_eq!(server.refused(json!({"name": "Carol"})).await, "name_taken");
}

#[tokio::test]
async fn an_invite_only_server_signs_up_only_with_a_working_invite() {
    let server = TestServer::start_with(|c| c.sign_up = SignUpPolicy::Invite).await;
    let refused = post(
        &server,
        "/auth/sign-up",
        "",
        json!({"name": "ann", "password": "correct horse"}),
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json()["error"], "invite_required");
    assert_eq!(
        server.refused(json!({"name": "ann"})).await,
        "sign_up_closed"
    );
    // Guests still read the lobby, as the default guest setting says.
    server.client(json!({})).await;

    let mut admin = server.admin().await;
    let made = answer(&mut admin, "create invite", json!({"maxUses": 1})).await;
    let code = made["data"]["code"].as_str().unwrap().to_owned();
    let id = made["data"]["invite"]["id"].clone();
    let with =
        |name: &str, code: &str| json!({"name": name, "password": "correct horse", "invite": code});
    let ann = post(&server, "/auth/sign-up", "", with("ann", &code)).await;
    assert_eq!(ann.status, 200, "{}", ann.body);
    let mut ann = connect(&server, &cookie_of(&ann)).await;
    let sent = ann
        .ask("chat message", vec![json!("hello, lobby"), json!("k1")])
        .await;
    assert!(sent[0].get("data").is_some(), "{sent:?}");
    // Used up.
    let bob = post(&server, "/auth/sign-up", "", with("bob", &code)).await;
    assert_eq!(bob.json()["error"], "invalid_invite");
    // A wrong secret, and a revoked invite, do not work either.
    let forged = format!("{}.{}", id.as_str().unwrap(), "ab".repeat(32));
    assert_eq!(
        post(&server, "/auth/sign-up", "", with("bob", &forged))
            .await
            .json()["error"],
        "invalid_invite"
    );
    let second = answer(&mut admin, "create invite", json!({})).await;
    let second_code = second["data"]["code"].as_str().unwrap().to_owned();
    let revoked = answer(
        &mut admin,
        "revoke invite",
        json!({"id": second["data"]["invite"]["id"]}),
    )
    .await;
    assert_eq!(revoked["data"]["revoked"], true);
    assert_eq!(
        post(&server, "/auth/sign-up", "", with("bob", &second_code))
            .await
            .json()["error"],
        "invalid_invite"
    );
    let list = answer(&mut admin, "invites", json!({})).await;
    let list = list["data"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().any(|i| i["id"] == id && i["uses"] == 1));
}

#[tokio::test]
async fn guests_read_only_or_not_at_all_as_the_server_says() {
    let server = TestServer::start_with(|c| c.guests = GuestPolicy::Off).await;
    assert_eq!(server.refused(json!({})).await, "sign_in_required");
    let cookie = sign_up(&server, "ann", "correct horse").await;
    connect(&server, &cookie).await;

    let server = TestServer::start_with(|c| c.guests = GuestPolicy::Read).await;
    let mut guest = server.client(json!({})).await;
    let sent = guest
        .ask("chat message", vec![json!("hello"), json!("k1")])
        .await;
    assert_eq!(sent[0]["error"]["code"], "sign_in_required", "{sent:?}");
}

#[tokio::test]
async fn moderators_use_admin_by_their_session_and_only_administrators_run_the_server() {
    let server = TestServer::start().await;
    let ann = sign_up(&server, "ann", "correct horse").await;
    let bob = sign_up(&server, "bob", "battery staple").await;
    let carol = sign_up(&server, "carol", "carol's garden").await;
    server.client(json!({"name": "dave"})).await;

    let mut admin = SioClient::connect_with_cookie(server.addr, Admin::PATH, json!({}), &ann)
        .await
        .expect("the administrator's session opens /admin");
    assert_eq!(admin.session, Some(json!({"name": "ann", "role": "admin"})));
    assert_eq!(
        refused_with_cookie(&server, Admin::PATH, &bob).await,
        "unauthorized"
    );

    let made = answer(
        &mut admin,
        "set role",
        json!({"name": "bob", "role": "moderator"}),
    )
    .await;
    assert_eq!(made["data"]["role"], "moderator", "{made}");
    let no_account = answer(
        &mut admin,
        "set role",
        json!({"name": "dave", "role": "moderator"}),
    )
    .await;
    assert_eq!(no_account["error"]["code"], "no_account");
    let last = answer(
        &mut admin,
        "set role",
        json!({"name": "ann", "role": "member"}),
    )
    .await;
    assert_eq!(last["error"]["code"], "last_admin");
    let people = answer(&mut admin, "people", json!({})).await;
    let people = people["data"].as_array().unwrap();
    assert_eq!(people.len(), 4, "{people:?}");
    assert!(
        people
            .iter()
            .any(|p| p["name"] == "dave" && p["account"] == false)
    );

    let mut moderator = SioClient::connect_with_cookie(server.addr, Admin::PATH, json!({}), &bob)
        .await
        .expect("a moderator's session opens /admin");
    assert_eq!(moderator.session.as_ref().unwrap()["role"], "moderator");
    for (event, request) in [
        ("people", json!({})),
        ("create invite", json!({})),
        ("webhooks", json!({})),
        ("reset link", json!({"name": "carol"})),
    ] {
        let refused = answer(&mut moderator, event, request).await;
        assert_eq!(
            refused["error"]["code"], "role_required",
            "{event}: {refused}"
        );
    }
    // A moderator moderates: carol is kicked.
    let mut carol_socket = connect(&server, &carol).await;
    let kicked = answer(&mut moderator, "kick", json!({"name": "carol"})).await;
    assert_eq!(kicked["data"]["sockets"], 1, "{kicked}");
    carol_socket.next_event_named("kicked").await;
    // The token still works for scripts and recovery, as an administrator.
    let token = server.admin().await;
    assert_eq!(token.session, Some(json!({"role": "admin"})));
}

#[tokio::test]
async fn a_ban_signs_every_device_out_and_refuses_sign_in_until_it_is_lifted() {
    let server = TestServer::start().await;
    sign_up(&server, "ann", "correct horse").await;
    let bob = sign_up(&server, "bob", "battery staple").await;
    let mut bob_socket = connect(&server, &bob).await;
    let mut admin = server.admin().await;
    let banned = answer(&mut admin, "ban", json!({"name": "bob"})).await;
    assert!(banned.get("data").is_some(), "{banned}");
    bob_socket.next_event_named("kicked").await;
    assert_eq!(refused_with_cookie(&server, "/", &bob).await, "signed_out");
    let refused = sign_in(&server, "bob", "battery staple").await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json()["error"], "banned");
    // A wrong password does not learn of the ban.
    assert_eq!(
        sign_in(&server, "bob", "wrong horse").await.json()["error"],
        "wrong_credentials"
    );
    // Nor can the name be taken by signing up again.
    let again = post(
        &server,
        "/auth/sign-up",
        "",
        json!({"name": "bob", "password": "battery staple"}),
    )
    .await;
    assert_eq!(again.json()["error"], "name_taken");
    answer(&mut admin, "unban", json!({"name": "bob"})).await;
    assert_eq!(sign_in(&server, "bob", "battery staple").await.status, 200);
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_signs_the_old_devices_out() {
    let server = TestServer::start().await;
    sign_up(&server, "ann", "correct horse").await;
    let bob = sign_up(&server, "bob", "battery staple").await;
    let mut old_device = connect(&server, &bob).await;
    let mut admin = server.admin().await;
    let link = answer(&mut admin, "reset link", json!({"name": "bob"})).await;
    let code = link["data"]["code"].as_str().unwrap().to_owned();
    assert_eq!(link["data"]["name"], "bob");

    let reset = post(
        &server,
        "/auth/reset",
        "",
        json!({"code": code, "password": "a brand new one"}),
    )
    .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    let (_, why) = old_device.next_event_named("signed out").await;
    assert!(why[0]["reason"].is_string());
    assert_eq!(refused_with_cookie(&server, "/", &bob).await, "signed_out");
    connect(&server, &cookie_of(&reset)).await;
    assert_eq!(sign_in(&server, "bob", "battery staple").await.status, 401);
    assert_eq!(sign_in(&server, "bob", "a brand new one").await.status, 200);
    let twice = post(
        &server,
        "/auth/reset",
        "",
        json!({"code": code, "password": "yet another one"}),
    )
    .await;
    assert_eq!(twice.json()["error"], "invalid_reset");
}

#[tokio::test]
async fn the_routes_refuse_other_sites_other_bodies_and_never_reuse_a_brought_session() {
    let server = TestServer::start().await;
    let ann = sign_up(&server, "ann", "correct horse").await;
    let body = json!({"name": "ann", "password": "correct horse"});
    let foreign = post(
        &server,
        "/auth/sign-in",
        "Origin: http://evil.example\r\n",
        body.clone(),
    )
    .await;
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    assert!(foreign.header("set-cookie").is_none());
    let form = http_request(
        server.addr,
        "POST",
        "/auth/sign-in",
        "Content-Type: application/x-www-form-urlencoded\r\n",
        b"name=ann&password=correct+horse",
    )
    .await;
    assert_eq!(form.status, 400);
    assert_eq!(form.json()["error"], "bad_request");
    // Signing in with a session cookie already set gets a new session, never that one.
    let again = post(
        &server,
        "/auth/sign-in",
        &format!("Cookie: {ann}\r\n"),
        body,
    )
    .await;
    assert_eq!(again.status, 200);
    assert_ne!(cookie_of(&again), ann);
    let planted = "palaver_session=00112233aabbccdd.00112233aabbccdd";
    let fresh = post(
        &server,
        "/auth/sign-in",
        &format!("Cookie: {planted}\r\n"),
        json!({"name": "ann", "password": "correct horse"}),
    )
    .await;
    assert_eq!(fresh.status, 200);
    assert_ne!(cookie_of(&fresh), planted);
    assert_eq!(
        refused_with_cookie(&server, "/", planted).await,
        "signed_out"
    );
}

/// A database made by the release before accounts: its migrations only, with a person who
/// holds a name by token and belongs to a room.
async fn database_before_accounts(dir: &tempfile::TempDir) -> String {
    let postgres = std::env::var("PALAVER_TEST_BACKEND").as_deref() == Ok("postgres");
    let (backend, last) = if postgres {
        ("postgres", 4)
    } else {
        ("sqlite", 13)
    };
    let old = dir.path().join("old-migrations");
    std::fs::create_dir_all(&old).unwrap();
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    for entry in std::fs::read_dir(all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let version: u32 = name[..4].parse().unwrap();
        if version <= last {
            std::fs::copy(&path, old.join(name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(old.as_path()).await.unwrap();
    let rows = [
        "INSERT INTO people (person, name, name_key, last_seen) VALUES ('p-olga', 'Olga', 'olga', 1)",
        "INSERT INTO rooms (name, kind, created_by, created_at) VALUES ('knitting', 'room', 'p-olga', 1)",
        "INSERT INTO members (room, person, joined_at) VALUES ('lobby', 'p-olga', 1)",
        "INSERT INTO members (room, person, joined_at) VALUES ('knitting', 'p-olga', 1)",
    ];
    if postgres {
        let url = crate::services::database();
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        migrator.run(&pool).await.unwrap();
        for sql in rows {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
        url
    } else {
        let url = crate::support::database_url(dir);
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
            .await
            .unwrap();
        migrator.run(&pool).await.unwrap();
        for sql in rows {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
        url
    }
}

/// A token for person `p-olga`, as the server signs them with `key`.
fn olga_token(key: &str) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = json!({"p": "p-olga", "n": "Olga", "e": i64::MAX});
    let signed = format!("v1.{}", b64.encode(claims.to_string()));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(signed.as_bytes());
    format!("{signed}.{}", b64.encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn a_database_from_before_accounts_keeps_its_token_holders_until_they_set_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let database = database_before_accounts(&dir).await;
    let server = TestServer::start_on(dir, database, None, |c| {
        c.session_secret = Some("the secret of the old release".to_owned());
    })
    .await;
    let token = olga_token("the secret of the old release");
    let mut olga = server.client(json!({"token": token})).await;
    assert_eq!(olga.session.as_ref().unwrap()["name"], "Olga");
    let rooms = olga.next_ambient("rooms").await;
    assert!(rooms.to_string().contains("knitting"), "{rooms}");
    drop(olga);

    let set = post(
        &server,
        "/auth/password",
        "",
        json!({"token": token, "password": "purl and knit"}),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.body);
    // People were here before accounts: nobody becomes administrator by setting a password
    // first; the admin token gives that role.
    assert_eq!(set.json()["role"], "member");
    assert_eq!(
        server.refused(json!({"token": token})).await,
        "sign_in_required"
    );
    let mut signed_in = connect(&server, &cookie_of(&set)).await;
    let rooms = signed_in.next_ambient("rooms").await;
    assert!(rooms.to_string().contains("knitting"), "{rooms}");
    assert_eq!(sign_in(&server, "olga", "purl and knit").await.status, 200);
}

#[tokio::test]
async fn lapsed_and_ended_sessions_are_forgotten_when_the_person_signs_in_again() {
    let server = TestServer::start().await;
    let first = sign_up(&server, "ann", "correct horse").await;
    let second = cookie_of(&sign_in(&server, "ann", "correct horse").await);
    post(
        &server,
        "/auth/sign-out",
        &format!("Cookie: {second}\r\n"),
        json!({}),
    )
    .await;
    // The first lapses: unused for longer than a session lasts.
    let lapsed = server
        .sql("UPDATE sessions SET last_seen = 1 WHERE ended_at IS NULL")
        .await;
    assert_eq!(lapsed, 1);
    assert_eq!(
        refused_with_cookie(&server, "/", &first).await,
        "signed_out"
    );
    let third = cookie_of(&sign_in(&server, "ann", "correct horse").await);
    let kept = server.sql("UPDATE sessions SET device = device").await;
    assert_eq!(kept, 1, "only the new session is kept");
    connect(&server, &third).await;
}
