//! The rules tidings checks both at run time and at compile time, in one place: the snake_case
//! rule for event categories and actions (with its suggestion), the rule for documentation
//! links, the severity names and the metadata keys tidings reserves for itself.
//!
//! This crate has no dependencies so that both the runtime (`tidings-runtime`, which checks names
//! built at run time and deserialized from JSON) and the proc-macro crate (`tidings-macros`, which
//! checks the literals in `#[emits_event]` at compile time) share the very same rules and the very
//! same suggestion. Users do not depend on it directly: `tidings` re-exports what they need.
//!
//! A name is snake_case when it matches `^[a-z][a-z0-9]*(_[a-z0-9]+)*$` and is at most
//! [`MAX_LEN`] bytes long.
//!
//! ```
//! use tidings_rules::{check, suggest, NameError};
//!
//! assert_eq!(check("signup_request"), Ok(()));
//! assert_eq!(check("SignupRequest"), Err(NameError::InvalidChar { index: 0, ch: 'S' }));
//! assert_eq!(suggest("SignupRequest").as_deref(), Some("signup_request"));
//! ```
#![forbid(unsafe_code)]

use std::fmt;

/// The longest name accepted, in bytes.
pub const MAX_LEN: usize = 64;

/// The rule, as one sentence, for error messages.
pub const RULE: &str = "a snake_case name: lowercase ASCII letters and digits in words joined by \
                        single underscores, starting with a letter (`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`), \
                        at most 64 bytes";

/// Why a name is not snake_case. `index` is a byte offset into the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_LEN`] bytes.
    TooLong {
        /// The length of the name, in bytes.
        len: usize,
    },
    /// The name starts with something other than a lowercase letter (a digit or an underscore).
    BadStart {
        /// The first character.
        ch: char,
    },
    /// A character that is not a lowercase ASCII letter, a digit or an underscore.
    InvalidChar {
        /// Byte offset of the character.
        index: usize,
        /// The character.
        ch: char,
    },
    /// Two underscores in a row.
    DoubleUnderscore {
        /// Byte offset of the second underscore.
        index: usize,
    },
    /// The name ends with an underscore.
    TrailingUnderscore,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NameError::Empty => f.write_str("it is empty"),
            NameError::TooLong { len } => {
                write!(f, "it is {len} bytes long, more than the {MAX_LEN} allowed")
            }
            NameError::BadStart { ch } => {
                write!(f, "it starts with {ch:?}, not with a lowercase letter")
            }
            NameError::InvalidChar { index, ch } => {
                write!(
                    f,
                    "{ch:?} at byte {index} is not a lowercase letter, digit or underscore"
                )
            }
            NameError::DoubleUnderscore { index } => {
                write!(f, "it has two underscores in a row at byte {index}")
            }
            NameError::TrailingUnderscore => f.write_str("it ends with an underscore"),
        }
    }
}

/// Checks a name against the snake_case rule.
///
/// It is a `const fn`, so that constants can be checked at compile time.
pub const fn check(name: &str) -> Result<(), NameError> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err(NameError::Empty);
    }
    if bytes.len() > MAX_LEN {
        return Err(NameError::TooLong { len: bytes.len() });
    }
    let first = bytes[0];
    if !first.is_ascii_lowercase() {
        if first == b'_' || first.is_ascii_digit() {
            return Err(NameError::BadStart { ch: first as char });
        }
        return Err(NameError::InvalidChar {
            index: 0,
            ch: char_at(name, 0),
        });
    }
    let mut i = 1;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'_' {
            if bytes[i - 1] == b'_' {
                return Err(NameError::DoubleUnderscore { index: i });
            }
        } else if !(b.is_ascii_lowercase() || b.is_ascii_digit()) {
            return Err(NameError::InvalidChar {
                index: i,
                ch: char_at(name, i),
            });
        }
        i += 1;
    }
    if bytes[bytes.len() - 1] == b'_' {
        return Err(NameError::TrailingUnderscore);
    }
    Ok(())
}

/// Whether `name` is snake_case; see [`check`].
pub const fn is_snake_case(name: &str) -> bool {
    check(name).is_ok()
}

/// Decodes the UTF-8 character starting at byte `i` (which is a character boundary).
const fn char_at(s: &str, i: usize) -> char {
    let b = s.as_bytes();
    let first = b[i] as u32;
    let (len, init) = if first < 0x80 {
        (1, first)
    } else if first >> 5 == 0b110 {
        (2, first & 0x1f)
    } else if first >> 4 == 0b1110 {
        (3, first & 0x0f)
    } else {
        (4, first & 0x07)
    };
    let mut code = init;
    let mut k = 1;
    while k < len {
        code = (code << 6) | (b[i + k] as u32 & 0x3f);
        k += 1;
    }
    match char::from_u32(code) {
        Some(c) => c,
        None => char::REPLACEMENT_CHARACTER,
    }
}

/// The snake_case spelling of `name`, when there is one and it differs from `name`.
///
/// Words are split at anything that is not an ASCII letter or digit and at case changes
/// (`SignupRequest`, `signup-request`, `signup request` and `HTTPServer` give `signup_request`,
/// `signup_request`, `signup_request` and `http_server`). There is no suggestion when the words
/// would start with a digit, when non-ASCII letters would be lost, or when the result is still not
/// a valid name.
pub fn suggest(name: &str) -> Option<String> {
    if !name.is_ascii() {
        return None;
    }
    let chars = name.as_bytes();
    let mut out = String::with_capacity(name.len() + 4);
    let mut word_open = false;
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            word_open = false;
            continue;
        }
        let boundary = word_open
            && c.is_ascii_uppercase()
            && i > 0
            && (chars[i - 1].is_ascii_lowercase()
                || chars[i - 1].is_ascii_digit()
                || (chars[i - 1].is_ascii_uppercase()
                    && chars.get(i + 1).is_some_and(u8::is_ascii_lowercase)));
        if (!word_open || boundary) && !out.is_empty() {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase() as char);
        word_open = true;
    }
    if out != name && is_snake_case(&out) {
        Some(out)
    } else {
        None
    }
}

/// The metadata key of the error of an error event: its report (message, causes, MeshKit's
/// fields).
pub const ERR_KEY: &str = "err";
/// The metadata key of a documentation link.
pub const DOC_KEY: &str = "doc";
/// The metadata key under which `#[emits_event]` keeps the id arguments that were not UUIDs.
pub const INVALID_IDS_KEY: &str = "invalid_ids";
/// The metadata key under which an event says what was cut to fit the size limit.
pub const TRUNCATED_KEY: &str = "truncated";
/// The metadata keys tidings writes itself: `#[emits_event]`'s `metadata(...)` refuses them.
pub const RESERVED_KEYS: [&str; 4] = [ERR_KEY, DOC_KEY, INVALID_IDS_KEY, TRUNCATED_KEY];

/// The eight MeshKit severity levels, most urgent first, as their exact strings.
pub const SEVERITIES: [&str; 8] = [
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "informational",
    "debug",
    "success",
];

/// Why a documentation link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocUrlError {
    /// It does not start with `http://` or `https://`.
    Scheme,
    /// Nothing names a host after the scheme.
    NoHost,
    /// It contains whitespace or a control character.
    BadChar,
}

impl fmt::Display for DocUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DocUrlError::Scheme => "a documentation link must start with http:// or https://",
            DocUrlError::NoHost => "a documentation link must name a host after the scheme",
            DocUrlError::BadChar => {
                "a documentation link must not contain whitespace or control characters"
            }
        })
    }
}

/// Checks that `url` is an absolute `http` or `https` link with a host (what the `doc` metadata
/// entry holds). It is a shape check for links people write, not a full URL parser.
pub fn check_doc_url(url: &str) -> Result<(), DocUrlError> {
    let lower_starts = |p: &str| {
        url.get(..p.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(p))
    };
    let rest = if lower_starts("https://") {
        &url[8..]
    } else if lower_starts("http://") {
        &url[7..]
    } else {
        return Err(DocUrlError::Scheme);
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(DocUrlError::BadChar);
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    if host.is_empty() {
        return Err(DocUrlError::NoHost);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn doc_urls() {
        for ok in [
            "https://docs.meshery.io/concepts/logical/connections",
            "http://localhost:9081/docs",
            "HTTPS://example.com",
            "https://[::1]:8080/x",
        ] {
            assert_eq!(check_doc_url(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_doc_url("docs.meshery.io"), Err(DocUrlError::Scheme));
        assert_eq!(check_doc_url("ftp://x.org"), Err(DocUrlError::Scheme));
        assert_eq!(
            check_doc_url("javascript:alert(1)"),
            Err(DocUrlError::Scheme)
        );
        assert_eq!(check_doc_url("https://"), Err(DocUrlError::NoHost));
        assert_eq!(check_doc_url("https:///path"), Err(DocUrlError::NoHost));
        assert_eq!(check_doc_url("https://a b.com"), Err(DocUrlError::BadChar));
        assert_eq!(check_doc_url("ééééé"), Err(DocUrlError::Scheme));
    }

    use super::*;

    #[test]
    fn good_names() {
        for n in [
            "signup_request",
            "github_artifacts",
            "remove_from_organization",
            "add_to_organization",
            "ping",
            "a",
            "a1",
            "v2_deploy",
            "x_1",
        ] {
            assert_eq!(check(n), Ok(()), "{n}");
        }
    }

    #[test]
    fn bad_names() {
        assert_eq!(check(""), Err(NameError::Empty));
        assert_eq!(
            check("Connection"),
            Err(NameError::InvalidChar { index: 0, ch: 'C' })
        );
        assert_eq!(
            check("signup-request"),
            Err(NameError::InvalidChar { index: 6, ch: '-' })
        );
        assert_eq!(
            check("signup request"),
            Err(NameError::InvalidChar { index: 6, ch: ' ' })
        );
        assert_eq!(check("_x"), Err(NameError::BadStart { ch: '_' }));
        assert_eq!(check("x_"), Err(NameError::TrailingUnderscore));
        assert_eq!(check("x__y"), Err(NameError::DoubleUnderscore { index: 2 }));
        assert_eq!(check("1abc"), Err(NameError::BadStart { ch: '1' }));
        assert_eq!(
            check("café"),
            Err(NameError::InvalidChar { index: 3, ch: 'é' })
        );
        let long = "a".repeat(MAX_LEN + 1);
        assert_eq!(check(&long), Err(NameError::TooLong { len: MAX_LEN + 1 }));
        assert_eq!(check(&long[..MAX_LEN]), Ok(()));
    }

    #[test]
    fn suggestions() {
        let cases = [
            ("SignupRequest", Some("signup_request")),
            ("signup-request", Some("signup_request")),
            ("signup request", Some("signup_request")),
            ("Connection", Some("connection")),
            ("HTTPServer", Some("http_server")),
            ("getHTTPResponse", Some("get_http_response")),
            ("x__y", Some("x_y")),
            ("_x", Some("x")),
            ("x_", Some("x")),
            ("v2Deploy", Some("v2_deploy")),
            ("1abc", None),
            ("", None),
            ("---", None),
            ("café", None),
            ("ping", None),
        ];
        for (input, want) in cases {
            assert_eq!(suggest(input).as_deref(), want, "{input:?}");
        }
    }
}
