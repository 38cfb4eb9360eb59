//! What tidings' test packages share (the integration tests, the example server's tests and the
//! load harness), written once:
//!
//! - [`user_from_cookie`]: the demo user, a UUID in the [`COOKIE`] cookie. Demo only: a real
//!   application reads the user its own authentication vouches for.
//! - [`SseReader`]: the frames of a Server-Sent Events response, keep-alive comments skipped.
//! - `demo::ping` (feature `demo`): the demo's annotated connection ping, with MeshKit's error
//!   fields.

use std::time::Duration;

use http::HeaderMap;
use uuid::Uuid;

#[cfg(feature = "demo")]
pub mod demo;

/// The cookie that holds the demo user's id.
pub const COOKIE: &str = "tidings_user";

/// The user in the [`COOKIE`] cookie of a request's headers, if it holds a UUID.
pub fn user_from_cookie(headers: &HeaderMap) -> Option<Uuid> {
    let cookies = headers.get(http::header::COOKIE)?.to_str().ok()?;
    cookies
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| Uuid::parse_str(value).ok())
}

/// One Server-Sent Events frame.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Frame {
    /// `id:`, if the frame has one.
    pub id: Option<String>,
    /// `event:`, if the frame names one (none for an event's frame).
    pub event: Option<String>,
    /// `data:`, its lines joined.
    pub data: String,
}

/// Reads the frames of a live stream.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    /// The frames of `response`.
    pub fn new(response: reqwest::Response) -> SseReader {
        SseReader {
            response,
            buffer: String::new(),
        }
    }

    /// The next frame with something in it (keep-alive comments skipped), or `None` when the
    /// stream ended or nothing came within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let text: String = self.buffer.drain(..end + 2).collect();
                let frame = parse(&text);
                if frame.id.is_some() || frame.event.is_some() || !frame.data.is_empty() {
                    return Some(frame);
                }
                continue;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }
}

/// One frame's text.
fn parse(text: &str) -> Frame {
    let mut frame = Frame::default();
    for line in text.lines() {
        if let Some(id) = line.strip_prefix("id:") {
            frame.id = Some(id.trim().to_owned());
        } else if let Some(event) = line.strip_prefix("event:") {
            frame.event = Some(event.trim().to_owned());
        } else if let Some(data) = line.strip_prefix("data:") {
            frame.data.push_str(data.trim_start());
        }
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_its_id_event_and_data() {
        let frame = parse("id: 1\nevent: lagged\ndata: {\"missed\":\ndata:  2}\n\n");
        assert_eq!(frame.id.as_deref(), Some("1"));
        assert_eq!(frame.event.as_deref(), Some("lagged"));
        assert_eq!(frame.data, "{\"missed\":2}");
        assert_eq!(parse(": keep-alive\n\n"), Frame::default());
    }

    #[test]
    fn the_user_is_the_uuid_in_the_cookie() {
        let user = Uuid::new_v4();
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            format!("theme=dark; {COOKIE}={user}").parse().unwrap(),
        );
        assert_eq!(user_from_cookie(&headers), Some(user));
        headers.insert(
            http::header::COOKIE,
            format!("{COOKIE}=nope").parse().unwrap(),
        );
        assert_eq!(user_from_cookie(&headers), None);
    }
}
