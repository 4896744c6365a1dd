//! The domain: identifiers, records, vocabularies, the working-day calendar and the clock.
//!
//! Boundary: nothing here knows HTTP, SQL or wire formats, and only `clock` reads the wall clock.
//! Types are valid by construction and derive neither `Serialize` nor `ToSchema`; conversion
//! happens at the edges (`api/`, `store/`).

pub mod calendar;
pub mod citizen_id;
pub mod clock;
pub mod lists;
pub mod names;
pub mod record;
pub mod region;
pub mod subject;
pub mod uscc;
pub mod vocab;
