//! Per-user fan-out: every event of a user reaches every socket of that user, and nobody else's.
//!
//! One `broadcast` channel per signed-in user, made on first subscribe and dropped when its
//! last socket goes. A socket that falls more than [`CAPACITY`] events behind is told it
//! lagged and re-syncs from the database (see `ws::session`), so slowness never loses events.
//! With other instances, `publish` also hands each event to an [`Outbound`] (the Redis relay
//! implements it); what they publish arrives through `deliver`, and when the relay may have
//! missed some, `resync_all` has every local socket read its state again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use app::protocol::{ServerMsg, UserId};
use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;

/// Events buffered per user before a slow socket is considered lagging.
pub const CAPACITY: usize = 256;

/// What a socket receives from the hub.
#[derive(Debug, PartialEq)]
// Always behind an `Arc` (one allocation per publish, shared by every socket): boxing the
// event would add a second.
#[allow(clippy::large_enum_variant)]
pub enum Signal {
    /// Send this to the tab.
    Event(Frame),
    /// Events may have been missed (the relay saw a gap): send the tab a fresh snapshot.
    Resync,
    /// Sign-in sessions ended (logout, "sign out everywhere", a new password): their
    /// sockets close.
    SessionEnded(Ended),
}

/// Which sign-in sessions of a user ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Ended {
    /// The session with this tag (see `auth::session_tag`).
    One(String),
    /// Every session signed in before this moment (ms). The one tagged `renewed` signed in
    /// again under a new id (a new password): its sockets reconnect with the new cookie
    /// instead of leaving the page, and a thief's copy of the old cookie gets nowhere.
    AllBefore { before_ms: i64, renewed: Option<String> },
}

/// What a socket does when sessions end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnEnded {
    /// Its session ended: close as signed out.
    SignOut,
    /// Its session signed in again: close so the tab reconnects under the new id.
    Reconnect,
    Stay,
}

impl Ended {
    /// What a socket of the session tagged `tag`, signed in at `signed_in_at`, must do.
    pub fn for_socket(&self, tag: Option<&str>, signed_in_at: i64) -> OnEnded {
        match self {
            Self::One(ended) if tag == Some(ended.as_str()) => OnEnded::SignOut,
            Self::AllBefore { before_ms, renewed } if signed_in_at < *before_ms => {
                match renewed.is_some() && tag == renewed.as_deref() {
                    true => OnEnded::Reconnect,
                    false => OnEnded::SignOut,
                }
            }
            _ => OnEnded::Stay,
        }
    }
}

pub type Event = Arc<Signal>;

/// An event and its text frame, written once by the first socket that sends it and shared by
/// the rest: a user's 100 tabs serialised every event 100 times before.
#[derive(Debug)]
pub struct Frame {
    msg: ServerMsg,
    json: OnceLock<Utf8Bytes>,
}

impl Frame {
    pub fn msg(&self) -> &ServerMsg {
        &self.msg
    }

    /// The event as a text frame (cheap to clone: the bytes are shared).
    pub fn json(&self) -> Utf8Bytes {
        self.json.get_or_init(|| self.msg.to_json().into()).clone()
    }
}

impl From<ServerMsg> for Frame {
    fn from(msg: ServerMsg) -> Self {
        Self { msg, json: OnceLock::new() }
    }
}

/// Two frames are the same event whether or not either was written yet.
impl PartialEq for Frame {
    fn eq(&self, other: &Self) -> bool {
        self.msg == other.msg
    }
}

/// Where events for other instances go. The hub does not know how (Redis pub/sub today).
pub trait Outbound: Send + Sync {
    fn event(&self, user: UserId, msg: &ServerMsg);
    fn session_ended(&self, user: UserId, ended: &Ended);
}

#[derive(Clone, Default)]
pub struct Hub {
    channels: Arc<Mutex<HashMap<UserId, broadcast::Sender<Event>>>>,
    outbound: Option<Arc<dyn Outbound>>,
}

impl Hub {
    /// A hub whose events also reach the other instances through `outbound`.
    pub fn with_outbound(outbound: Arc<dyn Outbound>) -> Self {
        Self { channels: Arc::default(), outbound: Some(outbound) }
    }

    fn channels(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, broadcast::Sender<Event>>> {
        self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn subscribe(&self, user: UserId) -> broadcast::Receiver<Event> {
        let mut channels = self.channels();
        channels.retain(|_, tx| tx.receiver_count() > 0);
        channels.entry(user).or_insert_with(|| broadcast::channel(CAPACITY).0).subscribe()
    }

    /// Sends an event to every socket of `user`, here and on other instances; returns how many
    /// sockets it reached here.
    pub fn publish(&self, user: UserId, msg: ServerMsg) -> usize {
        if let Some(outbound) = &self.outbound {
            outbound.event(user, &msg);
        }
        self.deliver(user, msg)
    }

    /// Sends an event to this instance's sockets of `user` only (what the relay brings in).
    pub fn deliver(&self, user: UserId, msg: ServerMsg) -> usize {
        self.signal(user, Signal::Event(msg.into()))
    }

    /// Closes the sockets of sessions that ended, here and on other instances.
    pub fn end_session(&self, user: UserId, ended: Ended) {
        if let Some(outbound) = &self.outbound {
            outbound.session_ended(user, &ended);
        }
        self.end_session_here(user, ended);
    }

    /// The same, on this instance only (what the relay brings in).
    pub fn end_session_here(&self, user: UserId, ended: Ended) -> usize {
        self.signal(user, Signal::SessionEnded(ended))
    }

    fn signal(&self, user: UserId, signal: Signal) -> usize {
        // No receiver means the user has no open tab: the event is already stored, nothing is lost.
        self.channels().get(&user).and_then(|tx| tx.send(Arc::new(signal)).ok()).unwrap_or(0)
    }

    /// Sends `msg` to every socket on this instance (a notice such as a restart), not relayed.
    pub fn tell_everyone(&self, msg: ServerMsg) -> usize {
        self.signal_everyone(Signal::Event(msg.into()))
    }

    /// Has every socket on this instance re-read its state from the database: events from
    /// other instances may have been lost, and a snapshot is what every tab converges on.
    pub fn resync_all(&self) -> usize {
        self.signal_everyone(Signal::Resync)
    }

    fn signal_everyone(&self, signal: Signal) -> usize {
        let signal = Arc::new(signal);
        self.channels().values().filter_map(|tx| tx.send(signal.clone()).ok()).sum()
    }

    /// Events queued here that some socket has not taken yet (the shutdown lets them go out).
    pub fn undelivered(&self) -> usize {
        self.channels().values().map(broadcast::Sender::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::protocol::{ThreadDeleted, ThreadId};

    fn deleted(id: i64) -> ServerMsg {
        ServerMsg::ThreadDeleted(ThreadDeleted { thread_id: ThreadId(id) })
    }

    #[tokio::test]
    async fn events_reach_every_socket_of_the_user_and_no_one_else() {
        let hub = Hub::default();
        let mut a1 = hub.subscribe(UserId(1));
        let mut a2 = hub.subscribe(UserId(1));
        let mut b = hub.subscribe(UserId(2));
        assert_eq!(hub.publish(UserId(1), deleted(9)), 2);
        assert_eq!(*a1.recv().await.expect("a1"), Signal::Event(deleted(9).into()));
        assert_eq!(*a2.recv().await.expect("a2"), Signal::Event(deleted(9).into()));
        assert!(b.try_recv().is_err());
    }

    #[tokio::test]
    async fn an_event_is_written_once_for_all_its_sockets() {
        let hub = Hub::default();
        let mut a1 = hub.subscribe(UserId(1));
        let mut a2 = hub.subscribe(UserId(1));
        hub.publish(UserId(1), deleted(9));
        let (s1, s2) = (a1.recv().await.expect("a1"), a2.recv().await.expect("a2"));
        let (Signal::Event(f1), Signal::Event(f2)) = (&*s1, &*s2) else { panic!("two events") };
        let (j1, j2) = (f1.json(), f2.json());
        assert_eq!(j1.as_str(), deleted(9).to_json());
        assert_eq!(j1.as_str().as_ptr(), j2.as_str().as_ptr(), "one text, shared");
    }

    #[test]
    fn a_user_with_no_socket_is_not_an_error() {
        let hub = Hub::default();
        assert_eq!(hub.publish(UserId(3), deleted(1)), 0);
        drop(hub.subscribe(UserId(3)));
        assert_eq!(hub.publish(UserId(3), deleted(1)), 0);
    }

    #[tokio::test]
    async fn a_resync_reaches_every_local_socket_of_every_user() {
        let hub = Hub::default();
        let mut a = hub.subscribe(UserId(1));
        let mut b = hub.subscribe(UserId(2));
        assert_eq!(hub.resync_all(), 2);
        assert_eq!(*a.recv().await.expect("a"), Signal::Resync);
        assert_eq!(*b.recv().await.expect("b"), Signal::Resync);
    }
}

#[cfg(test)]
mod ended_tests {
    use super::*;

    #[test]
    fn a_renewed_session_reconnects_older_ones_sign_out_newer_ones_stay() {
        let renewed = Ended::AllBefore { before_ms: 100, renewed: Some("mine".into()) };
        assert_eq!(renewed.for_socket(Some("mine"), 50), OnEnded::Reconnect);
        assert_eq!(renewed.for_socket(Some("theirs"), 50), OnEnded::SignOut);
        assert_eq!(renewed.for_socket(Some("theirs"), 100), OnEnded::Stay, "signed in since");
        let everywhere = Ended::AllBefore { before_ms: 100, renewed: None };
        assert_eq!(everywhere.for_socket(None, 0), OnEnded::SignOut);
        let one = Ended::One("mine".into());
        assert_eq!(
            (one.for_socket(Some("mine"), 0), one.for_socket(Some("other"), 0)),
            (OnEnded::SignOut, OnEnded::Stay)
        );
    }
}
