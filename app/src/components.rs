//! The pages and their parts. Components read the tab's [`ChatState`](crate::chat_state::ChatState)
//! and send [`ClientMsg`]s through [`Outbound`]; they hold no protocol logic themselves.

pub mod account_page;
pub mod admin_page;
pub mod attach;
pub mod auth_pages;
pub mod composer;
pub mod gallery_page;
pub mod home;
pub mod image_page;
pub mod image_row;
pub mod job_card;
pub mod layout;
pub mod mask_painter;
pub mod quota_bar;
pub mod settings_page;
pub mod share_page;
pub mod spend_chart;
pub mod thread_header;
pub mod thread_page;
pub mod transcript;

use std::sync::{Arc, Mutex};

use futures::channel::mpsc::UnboundedSender;
use leptos::prelude::*;

use crate::api::current_user;
use crate::chat_state::{ChatState, Connection};
use crate::protocol::{ClientId, ClientMsg, UserInfo};

/// The way from components to the socket. Empty on the server and until the socket loop
/// starts; frames sent while the socket is down wait in the channel.
#[derive(Clone, Default)]
pub struct Outbound(Arc<Mutex<Option<UnboundedSender<ClientMsg>>>>);

impl Outbound {
    #[cfg_attr(not(feature = "hydrate"), expect(dead_code))]
    pub(crate) fn install(&self, tx: UnboundedSender<ClientMsg>) -> bool {
        let Ok(mut slot) = self.0.lock() else { return false };
        if slot.is_some() {
            return false;
        }
        *slot = Some(tx);
        true
    }

    /// Sends a frame now when online, else leaves it to the reconnect (see [`ChatState::resume`]).
    pub fn send(&self, msg: ClientMsg) {
        if let Ok(slot) = self.0.lock() {
            if let Some(tx) = slot.as_ref() {
                // Fails only when the socket loop has ended, i.e. the page is going away.
                let _ = tx.unbounded_send(msg);
            }
        }
    }
}

pub(crate) fn use_chat_state() -> RwSignal<ChatState> {
    expect_context::<RwSignal<ChatState>>()
}

pub(crate) fn is_online(state: RwSignal<ChatState>) -> bool {
    state.with_untracked(|s| s.connection == Connection::Online)
}

/// The signed-in user for the page being rendered, loaded once on the server.
pub(crate) fn viewer_resource() -> Resource<Result<Option<UserInfo>, ServerFnError>> {
    Resource::new(|| (), |_| current_user())
}

/// A fresh idempotency key for a request that creates a row.
pub(crate) fn new_client_id() -> ClientId {
    #[cfg(feature = "hydrate")]
    {
        ClientId(uuid::Uuid::new_v4().to_string())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        ClientId(String::new())
    }
}
