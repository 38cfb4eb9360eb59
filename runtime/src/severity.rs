//! How urgent an event is, and whether its user has read it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The eight MeshKit severity levels.
///
/// The order is by urgency: `Emergency` is the greatest, `Success` the least, so
/// `Severity::Error > Severity::Warning`.
///
/// ```
/// use tidings_runtime::Severity;
///
/// assert_eq!("warning".parse::<Severity>(), Ok(Severity::Warning));
/// assert_eq!(Severity::Informational.to_string(), "informational");
/// assert!(Severity::Critical > Severity::Error);
/// let err = "fatal".parse::<Severity>().unwrap_err();
/// assert!(err.to_string().contains("\"fatal\""));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Severity {
    /// The system is unusable.
    Emergency,
    /// Action must be taken immediately.
    Alert,
    /// A critical condition.
    Critical,
    /// An operation failed; the event carries the error under the metadata key `err`.
    Error,
    /// Something may need attention.
    Warning,
    /// Worth knowing, nothing to do.
    Informational,
    /// Detail for developers.
    Debug,
    /// An operation succeeded.
    Success,
}

impl Severity {
    /// Every level, most urgent first.
    pub const ALL: [Severity; 8] = [
        Severity::Emergency,
        Severity::Alert,
        Severity::Critical,
        Severity::Error,
        Severity::Warning,
        Severity::Informational,
        Severity::Debug,
        Severity::Success,
    ];

    /// The level's exact MeshKit string, such as `"informational"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Emergency => "emergency",
            Severity::Alert => "alert",
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Informational => "informational",
            Severity::Debug => "debug",
            Severity::Success => "success",
        }
    }

    /// 0 for the most urgent level, 7 for the least.
    const fn rank(self) -> u8 {
        self as u8
    }
}

impl PartialOrd for Severity {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Severity {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.rank().cmp(&self.rank())
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`Severity`] or [`Status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownLevel {
    what: &'static str,
    value: String,
    valid: &'static [&'static str],
}

impl UnknownLevel {
    /// The rejected string.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for UnknownLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} {:?}; expected one of: {}",
            self.what,
            self.value,
            self.valid.join(", ")
        )
    }
}

impl std::error::Error for UnknownLevel {}

const SEVERITY_NAMES: &[&str] = &tidings_rules::SEVERITIES;

impl FromStr for Severity {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, UnknownLevel> {
        Severity::ALL
            .into_iter()
            .find(|level| level.as_str() == s)
            .ok_or_else(|| UnknownLevel {
                what: "severity",
                value: s.to_owned(),
                valid: SEVERITY_NAMES,
            })
    }
}

impl TryFrom<String> for Severity {
    type Error = UnknownLevel;

    fn try_from(name: String) -> Result<Self, UnknownLevel> {
        name.parse()
    }
}

impl From<Severity> for &'static str {
    fn from(value: Severity) -> &'static str {
        value.as_str()
    }
}

/// Whether the user has seen an event. New events are `Unread`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Status {
    /// Not yet seen (every new event).
    #[default]
    Unread,
    /// Marked as seen.
    Read,
}

impl Status {
    /// `"read"` or `"unread"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Unread => "unread",
            Status::Read => "read",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, UnknownLevel> {
        match s {
            "unread" => Ok(Status::Unread),
            "read" => Ok(Status::Read),
            _ => Err(UnknownLevel {
                what: "status",
                value: s.to_owned(),
                valid: &["read", "unread"],
            }),
        }
    }
}

impl TryFrom<String> for Status {
    type Error = UnknownLevel;

    fn try_from(name: String) -> Result<Self, UnknownLevel> {
        name.parse()
    }
}

impl From<Status> for &'static str {
    fn from(value: Status) -> &'static str {
        value.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_severity_string_round_trips() {
        assert_eq!(SEVERITY_NAMES.len(), Severity::ALL.len());
        for (level, name) in Severity::ALL.into_iter().zip(SEVERITY_NAMES) {
            assert_eq!(level.as_str(), *name);
            assert_eq!(name.parse::<Severity>(), Ok(level));
            assert_eq!(level.to_string(), *name);
        }
    }

    #[test]
    fn ordered_by_urgency() {
        let mut sorted = Severity::ALL;
        sorted.sort();
        assert_eq!(sorted[0], Severity::Success);
        assert_eq!(sorted[7], Severity::Emergency);
        assert!(Severity::Error > Severity::Warning);
        assert!(Severity::Debug > Severity::Success);
    }

    #[test]
    fn unknown_strings_are_named_with_the_valid_ones() {
        let err = "Error".parse::<Severity>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown severity \"Error\"; expected one of: emergency, alert, critical, error, \
             warning, informational, debug, success"
        );
        let err = "seen".parse::<Status>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown status \"seen\"; expected one of: read, unread"
        );
    }
}
