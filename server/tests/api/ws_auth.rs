//! Who may open a socket, and what a socket refuses.

use std::time::Duration;

use app::protocol::*;
use futures::StreamExt;
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{spawn_app, spawn_app_with, test_db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_is_refused() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let refused = app.try_connect(Some(&cookie), Some("http://evil.example")).await;
    assert_eq!(refused.err(), Some(StatusCode::FORBIDDEN));
    let no_origin = app.try_connect(Some(&cookie), None).await;
    assert_eq!(no_origin.err(), Some(StatusCode::FORBIDDEN));
    assert!(app.try_connect(Some(&cookie), Some("http://allowed.example")).await.is_ok(), "configured origin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_forged_cookie_is_refused() {
    let app = spawn_app().await;
    let origin = app.origin();
    assert_eq!(app.try_connect(None, Some(&origin)).await.err(), Some(StatusCode::UNAUTHORIZED));
    let forged = "easel_session=AAAAAAAAAAAAAAAAAAAAAA";
    assert_eq!(app.try_connect(Some(forged), Some(&origin)).await.err(), Some(StatusCode::UNAUTHORIZED));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_closes_with_1009() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    tab.send_raw(Message::text("x".repeat(MAX_FRAME_BYTES + 1))).await;
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(10), tab.socket.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Size));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_frame_gets_a_typed_error_and_the_session_goes_on() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    for bad in [r#"{"type":"launch"}"#, "not json", r#"{"type":"send","thread_id":"x"}"#] {
        tab.send_raw(Message::text(bad)).await;
        match tab.recv().await {
            ServerMsg::Error(e) => assert_eq!(e.code, ErrorCode::BadFrame, "{bad}"),
            other => panic!("expected bad_frame for {bad}, got {other:?}"),
        }
    }
    tab.send_raw(Message::binary(vec![1, 2, 3])).await;
    assert!(matches!(tab.recv().await, ServerMsg::Error(ProtocolError { code: ErrorCode::BadFrame, .. })));
    let thread = tab.create_thread("still-alive").await;
    assert_eq!(thread.title, "New chat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_messages_are_refused_with_their_client_id() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    for (id, text) in [("empty", "   "), ("long", &"y".repeat(MAX_MESSAGE_CHARS + 1))] {
        tab.say(thread.id, id, text).await;
        match tab.recv().await {
            ServerMsg::Error(e) => assert_eq!((e.code, e.client_id), (ErrorCode::Invalid, Some(ClientId(id.into())))),
            other => panic!("expected invalid, got {other:?}"),
        }
    }
    assert_eq!(app.store.message_count(thread.id).await.expect("count"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_is_dropped_and_a_live_one_is_kept() {
    let app = spawn_app_with(test_db().await, |s| {
        s.ws.ping_every = Duration::from_millis(100);
        s.ws.idle_timeout = Duration::from_millis(400);
    })
    .await;
    let cookie = app.signup("ada").await;
    let mut silent = app.connect(&cookie).await;
    let mut live = app.connect(&cookie).await;

    // `live` reads (so its client answers pings); `silent` reads nothing, so it never pongs.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while let Ok(frame) = tokio::time::timeout_at(deadline, live.socket.next()).await {
        assert!(matches!(frame, Some(Ok(Message::Ping(_)))), "only pings while idle, got {frame:?}");
    }
    let thread = live.create_thread("still-here").await;
    assert_eq!(thread.title, "New chat", "the answering socket is kept");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let ended = loop {
        match tokio::time::timeout_at(deadline, silent.socket.next()).await {
            Err(_) => break false,
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => break true,
            Ok(Some(Ok(_))) => continue,
        }
    };
    assert!(ended, "the silent socket was dropped");
}

/// Reads until the server closes the socket; returns the close code (`None`: no close frame).
pub async fn close_code_within(client: &mut crate::helpers::Client, limit: Duration) -> Option<u16> {
    let read = async {
        while let Some(frame) = client.socket.next().await {
            match frame {
                Ok(Message::Close(close)) => return close.map(|c| u16::from(c.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    };
    tokio::time::timeout(limit, read).await.ok().flatten()
}

/// C2: a socket opened before logout used to keep working after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_closes_that_sessions_sockets_at_once_and_no_others() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let elsewhere = app.signin("ada").await;
    let mut tab = app.connect(&cookie).await;
    let mut other_device = app.connect(&elsewhere).await;

    let (status, _, _) = app.post_form("/auth/logout", &[], Some(&cookie)).await;
    assert_eq!(status, reqwest::StatusCode::SEE_OTHER);
    assert_eq!(close_code_within(&mut tab, Duration::from_secs(1)).await, Some(SIGNED_OUT), "closed as signed out");
    assert_eq!(app.try_connect(Some(&cookie), Some(&app.origin())).await.err(), Some(StatusCode::UNAUTHORIZED));

    // The other sign-in is untouched.
    let thread = other_device.create_thread("still-here").await;
    assert_eq!(thread.title, "New chat");
}

/// G1: a tab that stops reading must not pin its socket task (and its buffers): every write
/// has the idle limit as its deadline, and the heartbeat drops a tab that stays silent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tab_that_stops_reading_is_dropped_within_the_idle_limit() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    let app = spawn_app_with(test_db().await, |s| {
        s.ws.ping_every = Duration::from_millis(500);
        s.ws.idle_timeout = Duration::from_secs(2);
    })
    .await;
    let cookie = app.signup("ada").await;
    let mut writer = app.connect(&cookie).await;
    let thread = writer.create_thread("t").await;

    // A socket with a small receive window that is never read.
    let tcp = tokio::net::TcpSocket::new_v4().expect("socket");
    tcp.set_recv_buffer_size(4096).expect("buffer size");
    let stream = tcp.connect(app.addr).await.expect("connect");
    let mut req = format!("ws://{}/ws", app.addr).into_client_request().expect("request");
    req.headers_mut().insert("cookie", HeaderValue::from_str(&cookie).expect("cookie"));
    req.headers_mut().insert("origin", HeaderValue::from_str(&app.origin()).expect("origin"));
    let (stuck, _) = tokio_tungstenite::client_async(req, stream).await.expect("upgrade");
    let client = stuck.get_ref().local_addr().expect("address");
    assert!(server_holds(app.addr, client), "the server's end of the socket is found");

    // 2.4 MB of echoes for it.
    let text = "x".repeat(MAX_MESSAGE_CHARS);
    for i in 0..300 {
        writer.say(thread.id, &format!("m-{i}"), &text).await;
    }
    writer
        .read_until(
            |m| matches!(m, ServerMsg::MessageAdded(a) if a.message.client_id == Some(ClientId("m-299".into()))),
        )
        .await;

    // Past the idle limit (2 s) the server has let go of it, without the tab reading a byte.
    let released = async {
        while server_holds(app.addr, client) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert!(tokio::time::timeout(Duration::from_secs(6), released).await.is_ok(), "the socket task ended");
    drop(stuck);
}

/// An IPv4 address as /proc/net/tcp writes it.
fn proc_hex(a: std::net::SocketAddr) -> String {
    match a.ip() {
        std::net::IpAddr::V4(ip) => format!("{:08X}:{:04X}", u32::from_le_bytes(ip.octets()), a.port()),
        std::net::IpAddr::V6(_) => String::new(),
    }
}

/// Whether this process (the server runs in it) has an open descriptor for the connection
/// from `client` to `server`: found in /proc/net/tcp by its addresses, then among our fds.
fn server_holds(server: std::net::SocketAddr, client: std::net::SocketAddr) -> bool {
    let (local, remote) = (proc_hex(server), proc_hex(client));
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() > 9 && f[1] == local && f[2] == remote)
        .map(|f| f[9].to_string())
        .collect();
    let links: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .expect("fds")
        .filter_map(|e| e.ok().and_then(|e| std::fs::read_link(e.path()).ok()))
        .map(|l| l.display().to_string())
        .collect();
    inodes.iter().any(|inode| inode != "0" && links.contains(&format!("socket:[{inode}]")))
}
