//! The router: every route of the API, and the retry without a trailing slash.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{delete, get, put};
use tower::ServiceExt;
use uuid::Uuid;

use super::Web;
use super::handlers::{
    create, delete_bulk, delete_one, get_one, list, set_status_bulk, set_status_one, types,
};
use super::openapi;
use super::options::Options;
use super::stream::{RecentJson, subscribe};
use crate::emitter::Emitter;

/// The events API and live stream of `emitter`'s store and broadcaster; `user_of` says who the
/// user of a request is (`None`: 401).
///
/// Mount it with `nest_service`: every route then answers the same with and without a trailing
/// slash, the mount point too (`/api/events/` as `/api/events`). axum's `nest` also works, but it
/// copies the routes into the outer router and does not route the mount point with a slash.
///
/// `user_of` must read what the application's own authentication vouches for, never what the
/// client sends as it likes (a header or cookie with a raw user id): the idiomatic axum way is
/// the user that the application's auth middleware put in the request's extensions, read with
/// [`user_from_extension`](super::user_from_extension).
///
/// ```
/// use tidings_runtime::{Emitter, Uuid, web};
///
/// /// What the application's auth middleware inserts into each request's extensions.
/// #[derive(Clone)]
/// struct AuthUser { id: Uuid }
///
/// let events = Emitter::new();
/// let api: axum::Router = axum::Router::new().nest_service(
///     "/api/events",
///     web::router(events, web::user_from_extension(|user: &AuthUser| user.id)),
/// );
/// // ... .layer(axum::middleware::from_fn(my_auth)) on the application's router.
/// # drop(api);
/// ```
pub fn router<S>(
    emitter: Emitter,
    user_of: impl Fn(&Parts) -> Option<Uuid> + Send + Sync + 'static,
) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router_with(emitter, user_of, Options::default())
}

/// [`router`] with [`Options`].
pub fn router_with<S>(
    emitter: Emitter,
    user_of: impl Fn(&Parts) -> Option<Uuid> + Send + Sync + 'static,
    options: Options,
) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let web = Web(Arc::new(super::Shared {
        emitter,
        user_of: Arc::new(user_of),
        recent: Arc::new(RecentJson::new()),
        streams: Arc::default(),
        workers: Arc::new(super::workers::StoreWorkers::start(
            options.store_threads,
            options.max_queued_store_calls,
        )),
        gate: super::workers::Gate::new(
            options.nonblocking_store_calls,
            options.max_queued_store_calls,
        ),
        options,
    }));
    // A path with a trailing slash that matched no route is tried again without it, so that
    // `/types/` answers as `/types` does (and `/api/events/` as `/api/events`).
    let without_slash = routes().with_state(web.clone());
    routes()
        .with_state(web)
        .fallback_service(tower::service_fn(move |mut request: Request| {
            let retry = without_slash.clone();
            async move {
                let trimmed = trim_trailing_slash(request.uri());
                match trimmed {
                    Some(uri) => {
                        *request.uri_mut() = uri;
                        retry.oneshot(request).await
                    }
                    None => Ok(StatusCode::NOT_FOUND.into_response()),
                }
            }
        }))
}

fn routes() -> Router<Web> {
    Router::new()
        .route("/", get(list).post(create))
        .route("/openapi.json", get(openapi::serve))
        .route("/types", get(types))
        .route("/subscribe", get(subscribe))
        .route("/status/bulk", put(set_status_bulk))
        .route("/status/{id}", put(set_status_one))
        .route("/bulk", delete(delete_bulk))
        .route("/{id}", get(get_one).delete(delete_one))
}

/// The URI without the trailing slash of its path; `None` when there is none to take away.
fn trim_trailing_slash(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    let trimmed = path.strip_suffix('/')?;
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    if trimmed == path {
        return None;
    }
    let path_and_query = match uri.query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    Uri::from_parts(parts).ok()
}

/// A `user_of` for [`router`] that reads the user the application's own authentication
/// middleware put in the request's extensions (`request.extensions_mut().insert(user)`): `id_of`
/// gives its id. A request without such an extension, or whose id is absent or not a UUID, has
/// no user (401).
///
/// This is how an axum application with an async auth layer (a bearer token checked against a
/// session store, a JWT verified with a fetched key) tells the events API who is signed in:
/// `user_of` itself is a plain function of the request's parts, run after the middleware.
///
/// ```
/// use tidings_runtime::{Emitter, Uuid, web};
///
/// #[derive(Clone)]
/// struct AuthUser { id: Uuid, name: String }
///
/// let user_of = web::user_from_extension(|user: &AuthUser| user.id);
/// let mut request = axum::http::Request::new(());
/// let alice = AuthUser { id: Uuid::new_v4(), name: "alice".into() };
/// request.extensions_mut().insert(alice.clone());
/// let (parts, ()) = request.into_parts();
/// assert_eq!(user_of(&parts), Some(alice.id));
///
/// let api: axum::Router = axum::Router::new()
///     .nest_service("/api/events", web::router(Emitter::new(), user_of));
/// # drop(api);
/// ```
pub fn user_from_extension<T, I>(
    id_of: impl Fn(&T) -> I + Send + Sync + Clone + 'static,
) -> impl Fn(&Parts) -> Option<Uuid> + Send + Sync + Clone + 'static
where
    T: Send + Sync + 'static,
    I: crate::call::IdSource,
{
    move |parts: &Parts| match id_of(parts.extensions.get::<T>()?).event_id() {
        crate::call::IdValue::Id(id) => Some(id),
        crate::call::IdValue::Absent | crate::call::IdValue::Invalid(_) => None,
    }
}
