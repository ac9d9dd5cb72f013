//! Files in messages (issue 22): uploads by signed-in accounts, attached by `chat message`,
//! served only to whoever may read the conversation, typed by their content, limited in size,
//! thumbnails made in the background and told with `file ready`, and deleted with their
//! message. Real server, real sockets, both backends.

use std::io::Cursor;
use std::net::SocketAddr;

use app::events::{
    AddMember, Admin, CreateRoom, DeleteMessage, Event as _, FileReady, Namespace as _, OpenDm,
    THUMBNAIL_PX,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{PATIENCE, SioClient, TestServer, http_request};

/// An HTTP answer with its body as bytes.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// `method path` with `headers` (lines ending in `\r\n`) and `body`, read whole.
async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> Answer {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    // A server that refuses early may reset the connection while this writes.
    let _ = s.write_all(&request).await;
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = [0u8; 8192];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("no answer");
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut body = buf[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Answer {
        status: head[9..12].parse().unwrap(),
        head,
        body,
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 2 + size + 2..];
    }
    out
}

async fn sign_up(server: &TestServer, name: &str) -> String {
    let reply = http_request(
        server.addr,
        "POST",
        "/auth/sign-up",
        "Content-Type: application/json\r\n",
        json!({"name": name, "password": "correct horse battery"})
            .to_string()
            .as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let set = reply.header("set-cookie").expect("a session cookie");
    set.split(';').next().unwrap().trim().to_owned()
}

async fn connect(server: &TestServer, cookie: &str) -> SioClient {
    SioClient::connect_with_cookie(server.addr, "/", json!({}), cookie)
        .await
        .expect("signed in")
}

/// Uploads `bytes` as `name` with the session cookie `cookie` (none: a guest).
async fn upload(server: &TestServer, cookie: Option<&str>, name: &str, bytes: &[u8]) -> Answer {
    let headers = match cookie {
        Some(cookie) => format!("Cookie: {cookie}\r\nContent-Type: image/png\r\n"),
        None => "Content-Type: image/png\r\n".to_owned(),
    };
    exchange(
        server.addr,
        "POST",
        &format!("/uploads?name={name}"),
        &headers,
        bytes,
    )
    .await
}

/// Uploads, expecting it taken: the file's info.
async fn uploaded(server: &TestServer, cookie: &str, name: &str, bytes: &[u8]) -> Value {
    let answer = upload(server, Some(cookie), name, bytes).await;
    assert_eq!(
        answer.status,
        201,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()
}

/// `GET path` as the holder of `cookie` (none: a guest).
async fn fetch(server: &TestServer, cookie: Option<&str>, path: &str) -> Answer {
    let headers = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    exchange(server.addr, "GET", path, &headers, b"").await
}

fn url(file: &Value) -> String {
    format!("/uploads/{}/{}", file["id"], file["name"].as_str().unwrap())
}

fn thumbnail_url(file: &Value) -> String {
    format!(
        "/uploads/{}/thumbnail/{}",
        file["id"],
        file["name"].as_str().unwrap()
    )
}

/// Sends `text` with `files` to `room`: the ack.
async fn send(
    client: &mut SioClient,
    text: &str,
    room: &str,
    files: &[i64],
    offset: &str,
) -> Value {
    let ack = client
        .ask(
            "chat message",
            vec![
                json!(text),
                json!(offset),
                json!(room),
                json!({"files": files}),
            ],
        )
        .await;
    ack[0].clone()
}

/// The next person's `chat message` of `room`'s (not a notice): its arguments.
async fn message_in(client: &mut SioClient, room: &str) -> Value {
    loop {
        let (_, args) = client.next_event_named("chat message").await;
        if args[2]["room"] == room && args[2]["kind"].is_null() {
            return args;
        }
    }
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x ^ y) % 239) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A 1 × 1 PNG whose header (checksum right) declares 100,000 × 100,000 pixels.
fn bomb() -> Vec<u8> {
    let mut image = png(1, 1);
    let side = 100_000u32.to_be_bytes();
    image[16..20].copy_from_slice(&side);
    image[20..24].copy_from_slice(&side);
    let mut crc = !0u32;
    for &b in &image[12..29] {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    image[29..33].copy_from_slice(&(!crc).to_be_bytes());
    image
}

#[tokio::test]
async fn a_file_is_read_by_those_who_may_read_its_conversation_and_missing_to_everyone_else() {
    let server = TestServer::start().await;
    let ann = sign_up(&server, "ann").await;
    let bob = sign_up(&server, "bob").await;
    let cy = sign_up(&server, "cy").await;
    let mut a = connect(&server, &ann).await;
    let mut b = connect(&server, &bob).await;

    let file = uploaded(&server, &ann, "notes.txt", b"the plan, in full").await;
    assert_eq!(file["name"], "notes.txt");
    assert_eq!(file["size"], 17);
    assert_eq!(file["type"], "application/octet-stream");
    assert_eq!(file["thumbnail"], "none");
    let id = file["id"].as_i64().unwrap();
    // Not sent yet: its uploader's alone.
    assert_eq!(fetch(&server, Some(&ann), &url(&file)).await.status, 200);
    for other in [Some(bob.as_str()), Some(cy.as_str()), None] {
        assert_eq!(fetch(&server, other, &url(&file)).await.status, 404);
    }

    // Into a private room of ann's and bob's.
    let made = a
        .ask(
            CreateRoom::NAME,
            vec![json!({"name": "plans", "private": true})],
        )
        .await;
    assert!(made[0]["data"].is_object(), "{made}");
    let added = a
        .ask(
            AddMember::NAME,
            vec![json!({"room": "plans", "name": "bob"})],
        )
        .await;
    assert!(added[0]["error"].is_null(), "{added}");
    let posted = send(&mut a, "", "plans", &[id], "o-1").await;
    assert!(
        posted["data"]["id"].is_i64(),
        "a message of files alone: {posted}"
    );
    let seen = message_in(&mut b, "plans").await;
    assert_eq!(seen[0], "");
    assert_eq!(seen[2]["files"], json!([file]));

    let read = fetch(&server, Some(&bob), &url(&file)).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body, b"the plan, in full");
    assert_eq!(
        read.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        read.header("content-disposition"),
        Some("attachment; filename=\"notes.txt\"; filename*=UTF-8''notes.txt")
    );
    assert_eq!(read.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        read.header("content-security-policy"),
        Some("default-src 'none'; sandbox")
    );
    assert!(read.header("cache-control").unwrap().starts_with("private"));
    // Not a member: as if there were no such file; a guest likewise.
    assert_eq!(fetch(&server, Some(&cy), &url(&file)).await.status, 404);
    assert_eq!(fetch(&server, None, &url(&file)).await.status, 404);

    // A retry of the message is answered with the stored one; another message cannot take
    // the file again.
    let again = send(&mut a, "", "plans", &[id], "o-1").await;
    assert_eq!(again["data"]["id"], posted["data"]["id"], "{again}");
    let taken = send(&mut a, "again", "plans", &[id], "o-2").await;
    assert_eq!(taken["error"]["code"], "unknown_file", "{taken}");
    assert_eq!(taken["error"]["id"], id);

    // Someone else's upload cannot be sent either.
    let bobs = uploaded(&server, &bob, "b.txt", b"bob's").await;
    let stolen = send(
        &mut a,
        "mine now",
        "plans",
        &[bobs["id"].as_i64().unwrap()],
        "o-3",
    )
    .await;
    assert_eq!(stolen["error"]["code"], "unknown_file", "{stolen}");

    // A direct conversation's file is its two people's.
    let dm = a.ask(OpenDm::NAME, vec![json!({"name": "bob"})]).await;
    let dm = dm[0]["data"]["room"].as_str().unwrap().to_owned();
    let secret = uploaded(&server, &ann, "secret.txt", b"for bob only").await;
    let sent = send(
        &mut a,
        "here",
        &dm,
        &[secret["id"].as_i64().unwrap()],
        "o-4",
    )
    .await;
    assert!(sent["data"]["id"].is_i64(), "{sent}");
    assert_eq!(fetch(&server, Some(&ann), &url(&secret)).await.status, 200);
    assert_eq!(fetch(&server, Some(&bob), &url(&secret)).await.status, 200);
    assert_eq!(fetch(&server, Some(&cy), &url(&secret)).await.status, 404);

    // The lobby's files are anyone's who may read the lobby, guests included.
    let open = uploaded(&server, &ann, "open.txt", b"for all").await;
    let sent = send(&mut a, "", "lobby", &[open["id"].as_i64().unwrap()], "o-5").await;
    assert!(sent["data"]["id"].is_i64(), "{sent}");
    assert_eq!(fetch(&server, None, &url(&open)).await.status, 200);
    assert_eq!(fetch(&server, Some(&cy), &url(&open)).await.status, 200);
    assert_eq!(fetch(&server, None, "/uploads/999999/x").await.status, 404);
}

#[tokio::test]
async fn the_type_is_read_from_the_content_not_from_the_name_or_the_request() {
    let server = TestServer::start().await;
    let ann = sign_up(&server, "ann").await;
    let page = b"<html><body><script>alert(document.cookie)</script></body></html>";
    let file = uploaded(&server, &ann, "x.png", page).await;
    assert_ne!(file["type"], "image/png");
    assert_eq!(file["thumbnail"], "none");
    let read = fetch(&server, Some(&ann), &url(&file)).await;
    assert_eq!(read.status, 200);
    assert_eq!(
        read.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(
        read.header("content-disposition")
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(read.header("x-content-type-options"), Some("nosniff"));

    // A real image is one, whatever it is called.
    let image = uploaded(&server, &ann, "holiday.bin", &png(4, 3)).await;
    assert_eq!(image["type"], "image/png");
    assert_eq!(image["thumbnail"], "pending");
    let read = fetch(&server, Some(&ann), &url(&image)).await;
    assert_eq!(read.header("content-type"), Some("image/png"));
    assert!(
        read.header("content-disposition")
            .unwrap()
            .starts_with("inline;")
    );
}

#[tokio::test]
async fn uploads_are_for_accounts_within_the_size_limit() {
    let server = TestServer::start_with(|c| c.upload_limit = 1_000).await;
    let ann = sign_up(&server, "ann").await;
    let guest = upload(&server, None, "a.txt", b"hello").await;
    assert_eq!(guest.status, 401);
    assert_eq!(guest.json()["error"], "sign_in_required");

    let big = upload(&server, Some(&ann), "big.bin", &[7u8; 1_001]).await;
    assert_eq!(big.status, 413);
    assert_eq!(big.json()["error"], "too_large");
    assert!(
        big.json()["message"]
            .as_str()
            .unwrap()
            .contains("1000 bytes")
    );
    let empty = upload(&server, Some(&ann), "e.bin", b"").await;
    assert_eq!(empty.status, 400);
    assert_eq!(empty.json()["error"], "empty");
    let fits = uploaded(&server, &ann, "fits.bin", &[7u8; 1_000]).await;
    assert_eq!(fits["size"], 1_000);
    // Nothing of the refused ones is kept: one file's blob.
    assert_eq!(server.sql("UPDATE uploads SET bytes = bytes").await, 1);
    assert_eq!(server.sql("UPDATE blobs SET bytes = bytes").await, 1);

    // Another site's page cannot upload with a visitor's cookie.
    let foreign = exchange(
        server.addr,
        "POST",
        "/uploads?name=x",
        &format!("Cookie: {ann}\r\nOrigin: https://evil.example\r\n"),
        b"x",
    )
    .await;
    assert_eq!(foreign.status, 403);
}

/// Waits for `file ready` about upload `id`.
async fn file_ready(client: &mut SioClient, id: i64) -> Value {
    loop {
        let (_, args) = client.next_event_named(FileReady::NAME).await;
        if args[0]["file"]["id"] == id {
            return args[0].clone();
        }
    }
}

#[tokio::test]
async fn an_image_gets_its_thumbnail_in_the_background_and_its_readers_hear_of_it() {
    let server = TestServer::start().await;
    let ann = sign_up(&server, "ann").await;
    let bob = sign_up(&server, "bob").await;
    let mut a = connect(&server, &ann).await;
    let mut b = connect(&server, &bob).await;

    // Large enough that the thumbnail usually comes after the message; either way is told.
    let image = uploaded(&server, &ann, "sunset.png", &png(1600, 1200)).await;
    assert_eq!(image["thumbnail"], "pending");
    let id = image["id"].as_i64().unwrap();
    let sent = send(&mut a, "look", "lobby", &[id], "o-1").await;
    let message = sent["data"]["id"].as_i64().unwrap();
    let seen = message_in(&mut b, "lobby").await;
    let told = seen[2]["files"][0]["thumbnail"].clone();
    let ready = if told == "pending" {
        file_ready(&mut b, id).await
    } else {
        assert_eq!(told, "ready");
        file_ready(&mut a, id).await
    };
    assert_eq!(ready["file"]["thumbnail"], "ready", "{ready}");
    if told == "pending" {
        assert_eq!(ready["room"], "lobby");
        assert_eq!(ready["message"], message);
    }

    let thumb = fetch(&server, Some(&bob), &thumbnail_url(&image)).await;
    assert_eq!(thumb.status, 200);
    assert_eq!(thumb.header("content-type"), Some("image/jpeg"));
    let small = image::load_from_memory(&thumb.body).unwrap();
    assert_eq!((small.width(), small.height()), (THUMBNAIL_PX, 240));
    // A guest may read the lobby, so its thumbnail too.
    assert_eq!(
        fetch(&server, None, &thumbnail_url(&image)).await.status,
        200
    );

    // Later loads say it is there.
    let page = b.ask("history", vec![json!({"room": "lobby"})]).await;
    let loaded = &page[0]["data"]["messages"];
    let loaded = loaded.as_array().unwrap().last().unwrap();
    assert_eq!(loaded[2]["files"][0]["thumbnail"], "ready", "{loaded}");
}

#[tokio::test]
async fn a_decompression_bomb_gets_no_thumbnail_and_stays_a_file() {
    let server = TestServer::start().await;
    let ann = sign_up(&server, "ann").await;
    let mut a = connect(&server, &ann).await;
    let bomb = uploaded(&server, &ann, "bomb.png", &bomb()).await;
    assert_eq!(bomb["type"], "image/png");
    let id = bomb["id"].as_i64().unwrap();
    // Told to its uploader while no message carries it, or to the lobby after.
    let sent = send(&mut a, "", "lobby", &[id], "o-1").await;
    assert!(sent["data"]["id"].is_i64(), "{sent}");
    let told = file_ready(&mut a, id).await;
    assert_eq!(told["file"]["thumbnail"], "failed", "{told}");
    assert_eq!(
        fetch(&server, Some(&ann), &thumbnail_url(&bomb))
            .await
            .status,
        404
    );
    assert_eq!(fetch(&server, Some(&ann), &url(&bomb)).await.status, 200);
    assert_eq!(server.get("/healthz").await.0, 200);
}

#[tokio::test]
async fn deleting_a_message_deletes_its_files_and_thumbnails() {
    let server = TestServer::start().await;
    let ann = sign_up(&server, "ann").await;
    let mut a = connect(&server, &ann).await;
    let image = uploaded(&server, &ann, "pic.png", &png(400, 400)).await;
    let id = image["id"].as_i64().unwrap();
    let sent = send(&mut a, "", "lobby", &[id], "o-1").await;
    let message = sent["data"]["id"].as_i64().unwrap();
    let ready = file_ready(&mut a, id).await;
    assert_eq!(ready["file"]["thumbnail"], "ready");
    let kept = uploaded(&server, &ann, "kept.txt", b"not sent").await;
    // The image, its thumbnail and the unsent file.
    assert_eq!(server.sql("UPDATE blobs SET bytes = bytes").await, 3);

    let token = server.admin_token().await;
    let mut admin = SioClient::connect(server.addr, Admin::PATH, json!({ "token": token }))
        .await
        .unwrap();
    let deleted = admin
        .ask(DeleteMessage::NAME, vec![json!({"id": message})])
        .await;
    assert!(deleted[0]["data"].is_object(), "{deleted}");
    assert_eq!(fetch(&server, Some(&ann), &url(&image)).await.status, 404);
    assert_eq!(
        fetch(&server, Some(&ann), &thumbnail_url(&image))
            .await
            .status,
        404
    );
    assert_eq!(server.sql("UPDATE blobs SET bytes = bytes").await, 1);
    assert_eq!(server.sql("UPDATE blob_chunks SET n = n").await, 1);
    assert_eq!(fetch(&server, Some(&ann), &url(&kept)).await.status, 200);
}
