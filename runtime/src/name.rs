//! Event categories and actions: snake_case names, checked when they are made.
//!
//! The rule itself lives in the `tidings-rules` crate, which the `#[emits_event]` macro uses too.

use std::borrow::{Borrow, Cow};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use tidings_rules::{MAX_LEN, RULE};

/// A name that is not snake_case, with what was wrong and a suggestion where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidName {
    kind: &'static str,
    value: String,
    reason: tidings_rules::NameError,
    suggestion: Option<String>,
}

impl InvalidName {
    fn new(kind: &'static str, value: &str, reason: tidings_rules::NameError) -> Self {
        InvalidName {
            kind,
            value: value.to_owned(),
            reason,
            suggestion: tidings_rules::suggest(value),
        }
    }

    /// The rejected value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// What the name was meant to be: `"category"` or `"action"`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The snake_case spelling of the value, when there is one.
    pub fn suggestion(&self) -> Option<&str> {
        self.suggestion.as_deref()
    }
}

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} {:?}: {}; expected {}",
            self.kind, self.value, self.reason, RULE
        )?;
        if let Some(s) = &self.suggestion {
            write!(f, "; did you mean {s:?}?")?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidName {}

macro_rules! snake_case_name {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Cow<'static, str>);

        impl $name {
            /// Checks `name` against the snake_case rule.
            ///
            /// # Errors
            /// [`InvalidName`] naming the value, stating the rule and suggesting a snake_case
            /// spelling where there is one.
            pub fn new(name: impl Into<Cow<'static, str>>) -> Result<Self, InvalidName> {
                let name = name.into();
                match tidings_rules::check(&name) {
                    Ok(()) => Ok($name(name)),
                    Err(reason) => Err(InvalidName::new($kind, &name, reason)),
                }
            }

            /// A name from a literal, checked at compile time when used in a `const`.
            ///
            /// # Panics
            /// When `name` is not snake_case; in a `const` item that is a compile error.
            pub const fn new_const(name: &'static str) -> Self {
                match tidings_rules::check(name) {
                    Ok(()) => $name(Cow::Borrowed(name)),
                    Err(_) => panic!(concat!(
                        "tidings: this ", $kind, " is not snake_case (lowercase ASCII letters and \
                         digits in words joined by single underscores, starting with a letter)"
                    )),
                }
            }

            /// The name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                *self.0 == *other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                *self.0 == **other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                *self == *other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                **self == *other.0
            }
        }

        impl TryFrom<&'static str> for $name {
            type Error = InvalidName;
            fn try_from(value: &'static str) -> Result<Self, InvalidName> {
                $name::new(value)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidName;
            fn try_from(value: String) -> Result<Self, InvalidName> {
                $name::new(value)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidName;
            fn from_str(s: &str) -> Result<Self, InvalidName> {
                $name::new(s.to_owned())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                $name::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

snake_case_name!(
    /// The area an event belongs to, such as `connection` or `pattern`: always snake_case.
    ///
    /// ```
    /// use tidings_runtime::Category;
    ///
    /// const CONNECTION: Category = Category::new_const("connection");
    /// assert_eq!(CONNECTION, "connection");
    /// let err = Category::new("SignupRequest").unwrap_err();
    /// assert_eq!(err.suggestion(), Some("signup_request"));
    /// ```
    Category,
    "category"
);

snake_case_name!(
    /// What was done, such as `ping` or `deploy`: always snake_case.
    ///
    /// ```
    /// use tidings_runtime::Action;
    ///
    /// const PING: Action = Action::new_const("ping");
    /// assert_eq!(PING.as_str(), "ping");
    /// assert!(Action::new("signup-request").is_err());
    /// ```
    Action,
    "action"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_value_rule_and_suggestion() {
        let err = Action::new("signup-request").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("invalid action \"signup-request\""), "{msg}");
        assert!(msg.contains("snake_case"), "{msg}");
        assert!(msg.contains("did you mean \"signup_request\"?"), "{msg}");
        assert_eq!(err.value(), "signup-request");
        assert_eq!(err.kind(), "action");

        let err = Category::new("1abc").unwrap_err();
        assert_eq!(err.suggestion(), None);
        assert!(!err.to_string().contains("did you mean"));
    }

    #[test]
    fn compares_with_str() {
        let c = Category::new("connection").unwrap();
        let r = &c;
        assert!(r == "connection");
        assert!(c == "connection");
        assert!("connection" == c);
        assert!(c != "pattern");
    }
}
