//! The notification center's page: one static file (`page.html`, no build step, no framework),
//! with what the server says written into its script: where the events API is mounted and how
//! the browser proves who it is.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::response::Html;
use axum::routing::{MethodRouter, get};

/// How the page's requests (the list, the live stream, marking and deleting) say who the user
/// is: whatever the application's authentication checks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageAuth {
    /// What the browser sends by itself: the application's session cookie (the default). The
    /// live stream is the browser's `EventSource`.
    Cookie,
    /// `Authorization: Bearer <token>`, with the token the application's own front end keeps in
    /// the browser's `localStorage` (or `sessionStorage`) under this key, read again for every
    /// request (so a refreshed token is used at once). `EventSource` cannot send that header:
    /// the live stream is read with `fetch` instead, with the same reconnection and
    /// `Last-Event-ID` resume.
    BearerFromStorage(String),
}

/// What [`notification_center_with`] writes into the page.
///
/// ```
/// use tidings_runtime::web::{PageAuth, PageOptions};
///
/// let page = PageOptions::new()
///     .api_base("/v1/notifications")
///     .auth(PageAuth::BearerFromStorage("access_token".into()));
/// assert_eq!(page.api(), "/v1/notifications");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageOptions {
    api_base: String,
    auth: PageAuth,
}

impl Default for PageOptions {
    fn default() -> Self {
        PageOptions {
            api_base: "/api/events".to_owned(),
            auth: PageAuth::Cookie,
        }
    }
}

impl PageOptions {
    /// The events API at `/api/events` on the page's origin, and the browser's cookies.
    #[must_use]
    pub fn new() -> Self {
        PageOptions::default()
    }

    /// Where [`router`](super::router) is mounted, as the browser reaches it: a path on the
    /// page's origin (`/v1/notifications`) or a full URL (another origin then needs CORS). A
    /// trailing `/` is dropped.
    #[must_use]
    pub fn api_base(mut self, base: impl Into<String>) -> Self {
        let base = base.into();
        self.api_base = base.trim_end_matches('/').to_owned();
        self
    }

    /// How the page's requests say who the user is.
    #[must_use]
    pub fn auth(mut self, auth: PageAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Where the page finds the events API.
    #[must_use]
    pub fn api(&self) -> &str {
        &self.api_base
    }

    /// The page with these options written into its script.
    fn render(&self) -> String {
        let auth = match &self.auth {
            PageAuth::Cookie => serde_json::json!({ "kind": "cookie" }),
            PageAuth::BearerFromStorage(key) => {
                serde_json::json!({ "kind": "bearer", "storageKey": key })
            }
        };
        include_str!("page.html")
            .replace("\"__ERR_KEY__\"", &script_value(&tidings_rules::ERR_KEY))
            .replace("\"__DOC_KEY__\"", &script_value(&tidings_rules::DOC_KEY))
            .replace("\"__API__\"", &script_value(&self.api_base))
            .replace("\"__AUTH__\"", &script_value(&auth))
    }
}

/// A value as a JavaScript literal inside a `<script>` element: JSON, with `<` escaped so that
/// no value can close the element.
fn script_value<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|_| "null".to_owned())
        .replace('<', "\\u003c")
}

/// The notification center: one static page (no build step, no framework) that lists the
/// user's events newest first and shows new ones live over the stream: unread counts (in all and
/// per severity, each a filter) as the server pushes them (`event: counts`, so a change made in
/// another tab shows at once), filters by severity, status, category, action and text (kept in
/// the page's address), paging as the list is scrolled, mark as read or unread and delete, one
/// at a time, for a selection or for every event the filters match (on the server, not only
/// those loaded), "Mark all as read", repeats folded into one card ("×12", the latest time,
/// moved to the top), each event's metadata and error details, and the stream's state. Keyboard
/// accessible; follows the system's dark mode.
///
/// This handler serves it with [`PageOptions::default`]: [`router`](super::router) mounted at
/// `/api/events` on the same origin, and the user known from what the browser sends by itself
/// (a cookie). Behind another mount point or bearer-token auth, serve
/// [`notification_center_with`].
pub async fn notification_center() -> Html<&'static str> {
    static PAGE: OnceLock<String> = OnceLock::new();
    Html(PAGE.get_or_init(|| PageOptions::default().render()))
}

/// The notification center with `options`: a route to mount where the page is served.
///
/// ```
/// use tidings_runtime::{Emitter, Uuid, web::{self, PageAuth, PageOptions}};
///
/// #[derive(Clone)]
/// struct AuthUser { id: Uuid }
///
/// let events = Emitter::new();
/// let app: axum::Router = axum::Router::new()
///     .route("/notifications", web::notification_center_with(
///         PageOptions::new()
///             .api_base("/v1/events")
///             .auth(PageAuth::BearerFromStorage("access_token".into())),
///     ))
///     .nest_service("/v1/events", web::router(events, web::user_from_extension(|u: &AuthUser| u.id)));
/// # drop(app);
/// ```
pub fn notification_center_with<S>(options: PageOptions) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    // Cloned per request without copying the page.
    let page = Bytes::from(options.render());
    get(move || {
        let page = page.clone();
        async move { Html(page) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_the_reserved_keys_of_the_rules_and_its_options() {
        let page = PageOptions::default().render();
        for placeholder in ["__ERR_KEY__", "__DOC_KEY__", "__API__", "__AUTH__"] {
            assert!(
                !page.contains(placeholder),
                "{placeholder} left in the page"
            );
        }
        assert!(page.contains(&format!("const ERR_KEY = {:?};", tidings_rules::ERR_KEY)));
        assert!(page.contains(&format!("const DOC_KEY = {:?};", tidings_rules::DOC_KEY)));
        assert!(page.contains(r#"const API = "/api/events";"#));
        assert!(page.contains(r#"const AUTH = {"kind":"cookie"};"#));
    }

    #[test]
    fn options_are_written_as_script_values_that_cannot_close_the_script() {
        let page = PageOptions::new()
            .api_base("/v1/x</script><script>alert(1)</script>/")
            .auth(PageAuth::BearerFromStorage("token\"</script>".into()))
            .render();
        assert!(
            page.contains(
                r#"const API = "/v1/x\u003c/script>\u003cscript>alert(1)\u003c/script>";"#
            )
        );
        assert!(
            page.contains(
                r#"const AUTH = {"kind":"bearer","storageKey":"token\"\u003c/script>"};"#
            )
        );
        assert_eq!(page.matches("</script>").count(), 1, "only the page's own");
    }
}
