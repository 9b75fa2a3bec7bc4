//! HTTP routes: pages (server-rendered Leptos), server functions, the account forms, the
//! no-JavaScript chat forms, the socket, and `/healthz`.

use std::sync::{Arc, OnceLock};

use app::protocol::{ClientId, ImageOptions, SendMessage, ThreadId};
use app::ssr::{RequestOrigin, SharedPageData, Viewer};
use app::{shell, App};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use leptos::nonce::use_nonce;
use leptos::prelude::{provide_context, use_context};
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use serde::Deserialize;
use tower_http::trace::TraceLayer;

use crate::account;
use crate::auth::{self, MaybeUser};
use crate::media;
use crate::page_data::StorePageData;
use crate::sessions::SessionBackend;
use crate::state::AppState;
use crate::ws;

/// The Leptos routes, listed once per process. Listing them renders the app with resource
/// loading suppressed by a process-wide flag (`leptos_server`'s `SuppressResourceLoad`), and a
/// resource first polled while that flag is up never loads: a page being served by another
/// app in the same process (two instances in one test binary) would hang for good
/// (leptos-rs/leptos#4773). Once listed, the flag is never raised again.
pub fn route_list() -> Arc<Vec<leptos_axum::AxumRouteListing>> {
    static ROUTES: OnceLock<Arc<Vec<leptos_axum::AxumRouteListing>>> = OnceLock::new();
    ROUTES.get_or_init(|| Arc::new(generate_route_list(App))).clone()
}

pub fn router(state: AppState, sessions: SessionBackend) -> Router {
    let secure = state.settings.secure_cookies;
    let routes = state.routes.as_ref().clone();
    let leptos = &state.settings.leptos;
    let pkg = crate::assets::pkg_service(&leptos.site_root, &leptos.site_pkg_dir);
    let pkg_path = format!("/{}", leptos.site_pkg_dir);
    // Outside the compression layer: a socket's frames are small and latency-bound.
    let uncompressed = Router::new().route("/healthz", get(healthz)).route("/ws", get(ws::upgrade));
    Router::new()
        .route("/metrics", get(crate::monitoring::metrics))
        .route("/auth/signup", post(auth::signup))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/logout-everywhere", post(account::logout_everywhere))
        .route("/auth/password", post(account::change_password))
        .route("/settings", post(crate::preferences::save))
        .route(
            "/uploads",
            post(crate::uploads::upload).layer(axum::extract::DefaultBodyLimit::max(state.chat.caps.upload_bytes)),
        )
        .route("/images/{id}/delete", post(crate::library::delete_image))
        .route("/images/{id}/share", post(crate::library::share_image))
        .route("/threads/{id}/share", post(crate::library::share_thread))
        .route("/threads/{id}/export.zip", get(crate::export::thread_zip))
        .route("/shares/{token}/revoke", post(crate::library::revoke_share))
        .route("/s/{token}/images/{id}/{variant}", get(crate::library::shared_image))
        .route("/threads", post(create_thread_form))
        .route("/threads/{id}/messages", post(send_message_form))
        .route("/images/{id}/{variant}", get(media::image))
        .route("/jobs/{id}/preview", get(media::preview))
        .route("/api/{*fn_name}", get(server_fn_handler).post(server_fn_handler))
        .leptos_routes_with_handler(routes, get(page_handler))
        .nest_service(&pkg_path, pkg)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(crate::assets::compression())
        .merge(uncompressed)
        .layer(axum::middleware::from_fn_with_state(
            Arc::<str>::from(format!("{pkg_path}/")),
            crate::assets::cache_control,
        ))
        .layer(sessions.layer(secure))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::headers::secure))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::csrf::refuse_cross_site))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// What every page render and server function gets as context: who is asking, and the store.
fn page_context(state: &AppState, user: MaybeUser, req: &Request<Body>) -> impl Fn() + Clone + Send + Sync + 'static {
    let data: SharedPageData = Arc::new(StorePageData {
        store: state.chat.store.clone(),
        jobs: state.chat.jobs.clone(),
        quotas: Arc::new(state.settings.quotas.clone()),
    });
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost").to_string();
    // The same reading of HTTPS as the cookies' (a proxy's `X-Forwarded-Proto`, an https Origin).
    let https = state.settings.secure_cookies || crate::headers::over_https(req.headers());
    let scheme = if https { "https" } else { "http" };
    let origin = RequestOrigin(format!("{scheme}://{host}"));
    move || {
        provide_context(Viewer(user.0.clone()));
        provide_context(data.clone());
        provide_context(origin.clone());
    }
}

async fn page_handler(State(state): State<AppState>, user: MaybeUser, req: Request<Body>) -> Response {
    let options = state.settings.leptos.clone();
    let context = page_context(&state, user, &req);
    // The render's nonce is on every inline script it writes; the policy names it.
    let context = move || {
        context();
        if let (Some(nonce), Some(res)) = (use_nonce(), use_context::<leptos_axum::ResponseOptions>()) {
            if let Ok(policy) = HeaderValue::from_str(&crate::headers::policy(Some(&nonce))) {
                res.insert_header(header::CONTENT_SECURITY_POLICY, policy);
            }
        }
    };
    let handler =
        leptos_axum::render_route_with_context(state.routes.as_ref().clone(), context, move || shell(options.clone()));
    handler(State(state), req).await.into_response()
}

async fn server_fn_handler(State(state): State<AppState>, user: MaybeUser, req: Request<Body>) -> impl IntoResponse {
    let context = page_context(&state, user, &req);
    handle_server_fns_with_context(context, req).await
}

/// Answers 200 when the database does, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> Response {
    match state.chat.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

/// The forms count against the same frames-per-user budget as the socket (D2).
fn too_fast(state: &AppState, user: &app::protocol::UserInfo) -> Option<Response> {
    let wait = state.throttle.frame(user.id).err()?;
    let retry = [(header::RETRY_AFTER, wait.secs().to_string())];
    Some((StatusCode::TOO_MANY_REQUESTS, retry, wait.sending_too_fast()).into_response())
}

fn new_client_id() -> ClientId {
    ClientId(uuid::Uuid::new_v4().to_string())
}

/// "New chat" before hydration: create, announce, open.
async fn create_thread_form(State(state): State<AppState>, user: MaybeUser) -> Response {
    let Some(user) = user.0 else { return Redirect::to("/login").into_response() };
    if let Some(refused) = too_fast(&state, &user) {
        return refused;
    }
    match state.chat.create_thread(user.id, &new_client_id(), None).await {
        Ok((created, _)) => Redirect::to(&format!("/threads/{}", created.thread.id)).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct MessageForm {
    text: String,
}

/// The composer before hydration (or without JavaScript): store, announce, show the thread.
async fn send_message_form(
    State(state): State<AppState>,
    user: MaybeUser,
    Path(id): Path<i64>,
    Form(form): Form<MessageForm>,
) -> Response {
    let Some(user) = user.0 else { return Redirect::to("/login").into_response() };
    if let Some(refused) = too_fast(&state, &user) {
        return refused;
    }
    let send = SendMessage {
        thread_id: ThreadId(id),
        client_id: new_client_id(),
        text: form.text,
        options: ImageOptions::default(),
    };
    match state.chat.send_message(user.id, &send).await {
        Ok(_) => Redirect::to(&format!("/threads/{id}")).into_response(),
        Err(e) => e.into_response(),
    }
}
