//! Repeats: what a store does with an event that repeats an earlier one of its kind. The rule
//! is here once; every store asks it ([`Event::repeat_outcome`], [`Event::folded_into`]) or
//! writes the same rule in its own dialect, and the conformance suite holds them to it.

use std::time::Duration;

use super::Event;
use crate::severity::Status;

/// What a store does with an event that repeats an earlier one of its *kind*: the same user,
/// category, action and `acted_upon`.
///
/// The rule is decided where events are ordered (the store, inside the writer's ordered
/// transaction on PostgreSQL), so it holds for every instance of a deployment and across
/// restarts. It compares the new event with the *newest* stored event of its kind (of its kind
/// and severity, for [`Coalesce`](Repeat::Coalesce)), in the store's order.
///
/// ```
/// use std::time::Duration;
/// use tidings_runtime::{Event, Repeat, Severity};
///
/// let event = Event::builder()
///     .category("cluster")
///     .action("health_check")
///     .severity(Severity::Warning)
///     .coalesce(Duration::from_secs(600))
///     .build()?;
/// assert_eq!(event.repeat(), Repeat::Coalesce(Duration::from_secs(600)));
/// # Ok::<(), tidings_runtime::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Repeat {
    /// Every event is stored as one of its own (the default).
    #[default]
    Keep,
    /// Repeats folded into one notification: when the newest stored event of the same kind
    /// and severity is unread and was created within this window before the new event, the
    /// new event is not stored. That stored event instead counts one more
    /// ([`Event::count`]), takes the new event's description and metadata, its `updated_at`
    /// becomes the new event's time, and it moves to the newest place in the store's order:
    /// live streams get it again as an update, and so does a stream that resumes after it.
    Coalesce(Duration),
    /// State changes only: the event is stored only when its severity differs from the
    /// newest stored event of its kind's, or when there is none. A health check that fails
    /// every 10 s says once that the cluster went down, and once that it came back.
    OnChange,
}

/// What becomes of a new event under its [`Repeat`] rule ([`Event::repeat_outcome`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepeatOutcome {
    /// Stored as a new event.
    Store,
    /// Folded into the stored event it was compared with ([`Event::folded_into`]).
    FoldInto,
    /// Not stored: it repeats the state of the stored event it was compared with.
    Skip,
}

/// An event's rule, carried with it to its store but not part of it: every rule compares equal,
/// so an event read back from a store (which keeps no rule) equals the event that was made.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RepeatRule(pub(crate) Repeat);

impl PartialEq for RepeatRule {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Event {
    /// Whether `stored` is of the kind this event's rule compares it with: the same user,
    /// category, action and `acted_upon` (and severity, for [`Repeat::Coalesce`]). Always
    /// `false` for [`Repeat::Keep`]. A store gives [`repeat_outcome`](Self::repeat_outcome)
    /// the newest stored event for which this is `true`.
    pub fn repeats_kind_of(&self, stored: &Event) -> bool {
        let kind = stored.user_id == self.user_id
            && stored.category == self.category
            && stored.action == self.action
            && stored.acted_upon == self.acted_upon;
        match self.repeat() {
            Repeat::Keep => false,
            Repeat::Coalesce(_) => kind && stored.severity == self.severity,
            Repeat::OnChange => kind,
        }
    }

    /// What becomes of this event under its rule, given `newest`: the newest stored event
    /// (in the store's order) that [`repeats_kind_of`](Self::repeats_kind_of) says it is
    /// compared with, or `None` when there is none.
    ///
    /// ```
    /// use tidings_runtime::{Event, RepeatOutcome, Severity};
    ///
    /// let down = || Event::builder().category("cluster").action("health_check")
    ///     .severity(Severity::Warning).on_change().build();
    /// let first = down()?;
    /// assert_eq!(first.repeat_outcome(None), RepeatOutcome::Store);
    /// assert_eq!(down()?.repeat_outcome(Some(&first)), RepeatOutcome::Skip);
    /// # Ok::<(), tidings_runtime::BuildError>(())
    /// ```
    pub fn repeat_outcome(&self, newest: Option<&Event>) -> RepeatOutcome {
        let Some(newest) = newest.filter(|stored| self.repeats_kind_of(stored)) else {
            return RepeatOutcome::Store;
        };
        match self.repeat() {
            Repeat::Keep => RepeatOutcome::Store,
            Repeat::Coalesce(window) => {
                let age = self.created_at - newest.created_at;
                let window = time::Duration::try_from(window).unwrap_or(time::Duration::MAX);
                if newest.status == Status::Unread && age <= window {
                    RepeatOutcome::FoldInto
                } else {
                    RepeatOutcome::Store
                }
            }
            Repeat::OnChange if newest.severity == self.severity => RepeatOutcome::Skip,
            Repeat::OnChange => RepeatOutcome::Store,
        }
    }

    /// `stored` with this event folded into it: one more in its count, this event's
    /// description and metadata, and this event's time as its `updated_at` (never earlier
    /// than it was). Its id, operation, creation time and status stay.
    pub fn folded_into(&self, stored: &Event) -> Event {
        let mut folded = stored.clone();
        folded.count = stored.count.saturating_add(1);
        folded.description = self.description.clone();
        folded.metadata = self.metadata.clone();
        folded.updated_at = stored.updated_at.max(self.created_at);
        folded.repeat = RepeatRule::default();
        folded
    }
}
