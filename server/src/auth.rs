//! Accounts: sign-up, log-in, log-out, and who is asking.
//!
//! Passwords are hashed with Argon2id by `password-auth` (PHC strings, salted), on the
//! blocking pool because a hash takes tens of milliseconds of CPU. Log-in with an unknown
//! username still verifies against a dummy hash, so timing does not reveal which names exist.
//! Attempts are limited per client address and per username, and hashes computed at once by
//! the number of cores (`throttle`): a flood is answered 429 instead of taking the CPU.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;

use app::auth_form::{check_new_password, normalize_username, AuthProblem, MAX_PASSWORD_CHARS};
use app::protocol::{UserId, UserInfo};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tower_sessions::Session;

use crate::hub::Ended;
use crate::sessions::{SIGNED_IN_AT_KEY, USER_ID_KEY};
use crate::state::AppState;
use crate::store::Store;
use crate::throttle::{Throttle, TooMany};
use tokio::sync::SemaphorePermit;

#[derive(Deserialize)]
pub struct AccountForm {
    username: String,
    password: String,
}

/// The signed-in user of a request, if any. Never rejects: pages decide what a visitor sees.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<UserInfo>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Ok(session) = Session::from_request_parts(parts, state).await else {
            return Ok(Self(None));
        };
        Ok(Self(user_of(&session, &state.chat.store).await))
    }
}

async fn user_of(session: &Session, store: &Store) -> Option<UserInfo> {
    let id = match session.get::<i64>(USER_ID_KEY).await {
        Ok(id) => id?,
        Err(e) => {
            tracing::warn!(error = %e, "session could not be read");
            return None;
        }
    };
    match store.signed_in_user(UserId(id), signed_in_at(session).await).await {
        Ok(user) => user,
        Err(e) => {
            tracing::error!(error = %e, "user lookup failed");
            None
        }
    }
}

/// Lets an attempt that will hash a password go on: within its rate, and with a hasher's
/// turn (held until the request ends). Else the 429 to answer with.
pub(crate) async fn admit<'a>(
    throttle: &'a Throttle,
    (address, rate): (IpAddr, Result<(), TooMany>),
    too_often: &str,
) -> Result<SemaphorePermit<'a>, Response> {
    if let Err(wait) = rate {
        tracing::warn!(%address, too_often, "refused: over the rate");
        return Err(too_many(wait, too_often));
    }
    throttle.hashing().await.map_err(|wait| too_many(wait, "The server is busy."))
}

/// 429 with `Retry-After`, and the same in words.
fn too_many(wait: TooMany, what: &str) -> Response {
    let secs = wait.secs();
    let text = format!("{what} Please try again in {secs} seconds.");
    (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, secs.to_string())], text).into_response()
}

/// Who is asking, for the per-address limits: the peer, or the address a trusted reverse
/// proxy wrote in `EASEL_CLIENT_IP_HEADER` (its last entry: the one that proxy added).
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let forwarded = state.settings.client_ip_header.as_deref().and_then(|name| {
            let value = parts.headers.get(name)?.to_str().ok()?;
            value.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
        });
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(Self(network_of(forwarded.or(peer).unwrap_or(IpAddr::from([0, 0, 0, 0])))))
    }
}

/// What the per-address limits count: an IPv4 address, or an IPv6 client's /64 (one
/// subscriber gets a whole /64, so counting single addresses would be no limit at all).
pub fn network_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            IpAddr::from(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        IpAddr::V6(v6) => IpAddr::V4(v6.to_ipv4_mapped().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)),
        v4 => v4,
    }
}

fn back_to(page: &str, problem: AuthProblem, username: &str) -> Response {
    let query = serde_urlencoded::to_string([("error", problem.code()), ("username", username)]).unwrap_or_default();
    Redirect::to(&format!("{page}?{query}")).into_response()
}

/// On the hashing threads (`hashing`): Argon2 is CPU and memory work by design.
pub(crate) async fn hash(password: String) -> Result<String, AuthProblem> {
    crate::hashing::run(move || crate::passwords::hash(password.as_bytes()))
        .await
        .flatten()
        .ok_or(AuthProblem::Unavailable)
}

/// Checks `password` against `hash`, or against a dummy hash when the user does not exist,
/// so both cases take the same time. On the hashing threads, as [`hash`].
pub(crate) async fn verify(password: String, hash: Option<String>) -> bool {
    crate::hashing::run(move || match hash.as_deref() {
        Some(hash) => crate::passwords::verify(password.as_bytes(), hash),
        None => match dummy_hash() {
            Some(dummy) => crate::passwords::verify(password.as_bytes(), dummy),
            // No dummy to check against (Argon2 refused to make one): a hash costs the same time.
            None => {
                let _ = crate::passwords::hash(password.as_bytes());
                false
            }
        },
    })
    .await
    .unwrap_or(false)
}

/// A real Argon2id hash of a random password, for unknown usernames to be checked against.
/// Made once per process (a constant in all but name), so it lives in a `OnceLock`.
fn dummy_hash() -> Option<&'static str> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    DUMMY.get_or_init(|| crate::passwords::hash(uuid::Uuid::new_v4().as_bytes())).as_deref()
}

/// When `session` signed in (ms); 0 for one signed in before this was recorded.
pub async fn signed_in_at(session: &Session) -> i64 {
    session.get::<i64>(SIGNED_IN_AT_KEY).await.ok().flatten().unwrap_or(0)
}

/// Signs `user` in on `session`, at `at` (ms).
pub(crate) async fn sign_in_at(session: &Session, user: UserId, at: i64) -> Result<(), AuthProblem> {
    // A new id on sign-in, so a session id planted before log-in is worthless after it.
    session.cycle_id().await.map_err(|_| AuthProblem::Unavailable)?;
    session.insert(USER_ID_KEY, user.0).await.map_err(|_| AuthProblem::Unavailable)?;
    session.insert(SIGNED_IN_AT_KEY, at).await.map_err(|_| AuthProblem::Unavailable)
}

async fn sign_in(session: &Session, user: &UserInfo) -> Result<(), AuthProblem> {
    sign_in_at(session, user.id, crate::store::now_ms()).await
}

async fn register(store: &Store, session: &Session, form: AccountForm) -> Result<(), AuthProblem> {
    let username = normalize_username(&form.username)?;
    check_new_password(&form.password)?;
    let password_hash = hash(form.password).await?;
    let user = store
        .create_user(&username, &password_hash)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "sign-up failed");
            AuthProblem::Unavailable
        })?
        .ok_or(AuthProblem::UsernameTaken)?;
    tracing::info!(user = %user.id, "account created");
    sign_in(session, &user).await
}

async fn authenticate(store: &Store, session: &Session, form: AccountForm) -> Result<(), AuthProblem> {
    let username = normalize_username(&form.username).map_err(|_| AuthProblem::BadCredentials)?;
    if form.password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(AuthProblem::BadCredentials);
    }
    let found = store.credentials(&username).await.map_err(|e| {
        tracing::error!(error = %e, "log-in lookup failed");
        AuthProblem::Unavailable
    })?;
    let (user, hash) = match found {
        Some(c) => (Some(c.user), Some(c.password_hash)),
        None => (None, None),
    };
    let ok = verify(form.password, hash).await;
    match (ok, user) {
        (true, Some(user)) => sign_in(session, &user).await,
        _ => Err(AuthProblem::BadCredentials),
    }
}

pub async fn signup(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    session: Session,
    Form(form): Form<AccountForm>,
) -> Response {
    let rate = (address, state.throttle.signup(address).await);
    let _turn = match admit(&state.throttle, rate, "Too many sign-ups from your address.").await {
        Ok(turn) => turn,
        Err(refused) => return refused,
    };
    let username = form.username.clone();
    match register(&state.chat.store, &session, form).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(problem) => back_to("/signup", problem, &username),
    }
}

pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    session: Session,
    Form(form): Form<AccountForm>,
) -> Response {
    let rate = (address, state.throttle.login(address, &form.username).await);
    let _turn = match admit(&state.throttle, rate, "Too many sign-in attempts.").await {
        Ok(turn) => turn,
        Err(refused) => return refused,
    };
    let username = form.username.clone();
    match authenticate(&state.chat.store, &session, form).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(problem) => back_to("/login", problem, &username),
    }
}

/// Ends the session, and with it every socket opened under it, on every instance (C2).
pub async fn logout(State(state): State<AppState>, session: Session) -> Response {
    let user = session.get::<i64>(USER_ID_KEY).await.ok().flatten().map(UserId);
    let tag = session_tag(&session);
    if let Err(e) = session.flush().await {
        tracing::warn!(error = %e, "session could not be removed");
    }
    if let (Some(user), Some(tag)) = (user, tag) {
        state.chat.hub.end_session(user, Ended::One(tag));
    }
    // Images are cached privately for a year; signing out empties this site's cache where
    // the browser honours it (K5), so the next person at this browser cannot open them.
    let mut res = Redirect::to("/").into_response();
    res.headers_mut().insert("clear-site-data", axum::http::HeaderValue::from_static("\"cache\""));
    res
}

/// A session's name among sockets and instances: a digest of its id, so the id itself (the
/// secret in the cookie) never travels beyond the session store.
pub fn session_tag(session: &Session) -> Option<String> {
    use sha2::{Digest, Sha256};
    let id = session.id()?.to_string();
    Some(Sha256::digest(id.as_bytes()).iter().take(12).map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::network_of;
    use std::net::IpAddr;

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
        assert_eq!(network_of(a), network_of(b));
        assert_ne!(network_of(a), network_of("2001:db8:1:3::1".parse().expect("ip")));
        let v4: IpAddr = "10.0.0.1".parse().expect("ip");
        assert_eq!(network_of(v4), v4);
        assert_eq!(network_of("::ffff:10.0.0.1".parse().expect("ip")), v4);
    }
}
