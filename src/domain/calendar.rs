//! The official working-day calendar of mainland China: statutory holidays and the weekend
//! make-up working days (调休) announced each year by the State Council General Office.
//!
//! This module owns working-day arithmetic (objection answers within 15 working days,
//! corrections upward within 5, 双公示 within 7, the report window ending one working day before
//! today). It must not read the wall clock (callers pass dates, "today" comes from
//! `domain::clock`), and knows nothing of HTTP, SQL or wire formats. The data is the holiday-cn
//! year files in `assets/holidays/`, compiled into the binary so a node never depends on a
//! network fetch or a file on disk to compute a legal deadline.
//!
//! The calendar refuses rather than guesses: for a year without a published notice it answers
//! [`CalendarError::NotCovered`], because a deadline computed with plain Mon–Fri rules could be
//! days wrong around the Spring Festival or National Day.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use time::{Date, Month, Weekday};

/// Why the calendar cannot answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The official holiday arrangement for `year` is not loaded (not yet published, or outside
    /// the embedded data), so working days in it cannot be known.
    #[error(
        "the working-day calendar does not cover {year}: its official holiday notice is not loaded"
    )]
    NotCovered {
        /// The year whose notice is missing.
        year: i32,
    },
}

impl CalendarError {
    /// Machine-readable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotCovered { .. } => "calendar_not_covered",
        }
    }

    /// The error in Chinese for end users and operators.
    pub fn message_zh(&self) -> String {
        match self {
            Self::NotCovered { year } => {
                format!("工作日历未包含{year}年的法定节假日安排，暂无法计算工作日")
            }
        }
    }
}

/// The holiday-cn files compiled into the binary, by year. Add a line when a new notice is
/// published (and copy the file into `assets/holidays/`).
const YEAR_FILES: &[(i32, &str)] = &[
    (2007, include_str!("../../assets/holidays/2007.json")),
    (2008, include_str!("../../assets/holidays/2008.json")),
    (2009, include_str!("../../assets/holidays/2009.json")),
    (2010, include_str!("../../assets/holidays/2010.json")),
    (2011, include_str!("../../assets/holidays/2011.json")),
    (2012, include_str!("../../assets/holidays/2012.json")),
    (2013, include_str!("../../assets/holidays/2013.json")),
    (2014, include_str!("../../assets/holidays/2014.json")),
    (2015, include_str!("../../assets/holidays/2015.json")),
    (2016, include_str!("../../assets/holidays/2016.json")),
    (2017, include_str!("../../assets/holidays/2017.json")),
    (2018, include_str!("../../assets/holidays/2018.json")),
    (2019, include_str!("../../assets/holidays/2019.json")),
    (2020, include_str!("../../assets/holidays/2020.json")),
    (2021, include_str!("../../assets/holidays/2021.json")),
    (2022, include_str!("../../assets/holidays/2022.json")),
    (2023, include_str!("../../assets/holidays/2023.json")),
    (2024, include_str!("../../assets/holidays/2024.json")),
    (2025, include_str!("../../assets/holidays/2025.json")),
    (2026, include_str!("../../assets/holidays/2026.json")),
    (2027, include_str!("../../assets/holidays/2027.json")),
];

/// From this day of December on, a date may be governed by the *next* year's notice (it moves
/// days around New Year: 2008's notice made 2007-12-29 a working day and 2007-12-30/31 rest
/// days; 2019's did the same to 2018-12-29..31). So those dates count as covered only once the
/// next notice is loaded too. The earliest such date in the data is 29 December; 25 leaves margin.
const NEXT_NOTICE_REACHES_BACK_TO_DECEMBER: u8 = 25;

/// One holiday-cn year file (`assets/holidays/schema.json`); only the fields we use.
#[derive(serde::Deserialize)]
struct YearFile {
    year: i32,
    papers: Vec<String>,
    days: Vec<DayEntry>,
}

/// One listed day of a year file.
#[derive(serde::Deserialize)]
struct DayEntry {
    date: String,
    #[serde(rename = "isOffDay")]
    is_off_day: bool,
}

/// A year file after parsing: the notice year, whether the notice exists, and its days as
/// `(date, is_working_day)`.
struct ParsedYear {
    year: i32,
    published: bool,
    days: Vec<(Date, bool)>,
}

/// Parses one year file; the error says what is wrong (only ever seen by the test that checks
/// the embedded files, or in the panic message of a binary built with a broken file).
fn parse_year_file(json: &str) -> Result<ParsedYear, String> {
    let file: YearFile = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let days = file
        .days
        .iter()
        .map(|d| {
            Date::parse(&d.date, &format)
                .map(|date| (date, !d.is_off_day))
                .map_err(|e| format!("{}: {e}", d.date))
        })
        .collect::<Result<_, _>>()?;
    Ok(ParsedYear {
        year: file.year,
        published: !file.papers.is_empty(),
        days,
    })
}

/// Mainland China's official working days, from the State Council's annual holiday notices.
///
/// A day is a working day if a notice lists it as one (a weekend make-up day), a rest day if a
/// notice lists it as a holiday, and otherwise a working day exactly when it is Monday to
/// Friday. Only dates of years whose notice is loaded are answered; see [`Self::covers`].
#[derive(Clone, Debug)]
pub struct WorkingCalendar {
    /// Every listed date from every notice, merged (a notice may list dates of the previous
    /// year), mapped to "is a working day".
    listed: HashMap<Date, bool>,
    /// Years whose notice is loaded (non-empty `papers`) or that the operator declared covered.
    covered_years: BTreeSet<i32>,
}

impl WorkingCalendar {
    /// The calendar built from the notices compiled into this binary (parsed once).
    pub fn embedded() -> &'static WorkingCalendar {
        static EMBEDDED: OnceLock<WorkingCalendar> = OnceLock::new();
        EMBEDDED.get_or_init(Self::from_embedded_files)
    }

    #[expect(clippy::expect_used, reason = "embedded file, checked by a test")]
    fn from_embedded_files() -> Self {
        let mut calendar = Self {
            listed: HashMap::new(),
            covered_years: BTreeSet::new(),
        };
        for &(_, json) in YEAR_FILES {
            let parsed = parse_year_file(json).expect("embedded holiday file parses");
            if parsed.published {
                calendar.covered_years.insert(parsed.year);
            }
            calendar.listed.extend(parsed.days);
        }
        calendar
    }

    /// The embedded calendar with operator-configured adjustments applied on top: each
    /// `(date, is_working)` overrides what the notices say about that date (e.g. a locally
    /// announced closure, or a notice published after this binary was built).
    ///
    /// Overrides do not by themselves make a year covered — one stray entry must not turn a
    /// year of guesses into deadlines. Declare that with [`Self::with_covered_years`] once the
    /// year's whole notice has been entered.
    pub fn with_overrides(extra: impl IntoIterator<Item = (Date, bool)>) -> WorkingCalendar {
        let mut calendar = Self::embedded().clone();
        calendar.listed.extend(extra);
        calendar
    }

    /// Declares `years` covered: the operator asserts that every holiday and make-up day of
    /// those years has been supplied (through [`Self::with_overrides`]) or that there are none.
    #[must_use]
    pub fn with_covered_years(mut self, years: impl IntoIterator<Item = i32>) -> WorkingCalendar {
        self.covered_years.extend(years);
        self
    }

    /// Whether the calendar can say if `date` is a working day: its year's notice is loaded,
    /// and, for the last days of December, the next year's notice too (it may move them).
    pub fn covers(&self, date: Date) -> bool {
        self.check_covered(date).is_ok()
    }

    fn check_covered(&self, date: Date) -> Result<(), CalendarError> {
        let year = date.year();
        if !self.covered_years.contains(&year) {
            return Err(CalendarError::NotCovered { year });
        }
        if date.month() == Month::December
            && date.day() >= NEXT_NOTICE_REACHES_BACK_TO_DECEMBER
            && !self.covered_years.contains(&(year + 1))
        {
            return Err(CalendarError::NotCovered { year: year + 1 });
        }
        Ok(())
    }

    /// Whether `date` is an official working day.
    ///
    /// # Errors
    /// [`CalendarError::NotCovered`] if a date that must be examined is not covered.
    pub fn is_working_day(&self, date: Date) -> Result<bool, CalendarError> {
        self.check_covered(date)?;
        Ok(match self.listed.get(&date) {
            Some(&is_working) => is_working,
            None => !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday),
        })
    }

    /// The `n`-th working day strictly after `start`, e.g. the deadline for answering an
    /// objection received on `start` is `add_working_days(start, 15)`. `start` itself never
    /// counts, whether or not it is a working day; `n == 0` returns `start` (if covered).
    ///
    /// # Errors
    /// [`CalendarError::NotCovered`] if a date that must be examined is not covered.
    pub fn add_working_days(&self, start: Date, n: u32) -> Result<Date, CalendarError> {
        if n == 0 {
            self.check_covered(start)?;
            return Ok(start);
        }
        let mut date = start;
        let mut remaining = n;
        while remaining > 0 {
            date = next_day(date)?;
            if self.is_working_day(date)? {
                remaining -= 1;
            }
        }
        Ok(date)
    }

    /// The last working day strictly before `date` (e.g. the end of a special credit report's
    /// window, "one working day before today").
    ///
    /// # Errors
    /// [`CalendarError::NotCovered`] if a date that must be examined is not covered.
    pub fn previous_working_day(&self, date: Date) -> Result<Date, CalendarError> {
        let mut day = date;
        loop {
            day = day.previous_day().ok_or(CalendarError::NotCovered {
                year: date.year() - 1,
            })?;
            if self.is_working_day(day)? {
                return Ok(day);
            }
        }
    }

    /// How many working days lie in `(from, to]` — after `from`, up to and including `to` —
    /// so that `working_days_between(s, add_working_days(s, n)?) == n`. Zero when `to <= from`.
    ///
    /// Use it to check a deadline: an answer given on `to` for an objection received on `from`
    /// is in time when the result is at most 15.
    ///
    /// # Errors
    /// [`CalendarError::NotCovered`] if a date that must be examined is not covered.
    pub fn working_days_between(&self, from: Date, to: Date) -> Result<u32, CalendarError> {
        let mut count = 0_u32;
        let mut date = from;
        while date < to {
            date = next_day(date)?;
            if self.is_working_day(date)? {
                count += 1;
            }
        }
        Ok(count)
    }
}

/// The day after `date`; the end of the representable range is reported as not covered (it
/// can only be reached through a covered year, which the late-December rule already stops).
fn next_day(date: Date) -> Result<Date, CalendarError> {
    date.next_day().ok_or(CalendarError::NotCovered {
        year: date.year() + 1,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use time::macros::date;

    fn cal() -> &'static WorkingCalendar {
        WorkingCalendar::embedded()
    }

    #[test]
    fn embedded_files_parse_and_are_consistent() {
        let mut seen: HashMap<Date, (bool, i32)> = HashMap::new();
        for &(year, json) in YEAR_FILES {
            let parsed = parse_year_file(json).unwrap();
            assert_eq!(parsed.year, year, "file name and content disagree");
            assert_eq!(parsed.published, year != 2027, "{year}");
            for (date, is_working) in parsed.days {
                // A notice only reaches into its own year and the end of the previous one.
                assert!(
                    date.year() == year
                        || (date.year() == year - 1
                            && date.month() == Month::December
                            && date.day() >= NEXT_NOTICE_REACHES_BACK_TO_DECEMBER),
                    "{year}: {date}"
                );
                // Make-up working days are weekend days. One exception: the 2020 Spring
                // Festival was extended to 2 February (COVID-19), and the data marks Monday
                // 3 February, the return to work, explicitly — redundant but harmless.
                if is_working && date != date!(2020 - 02 - 03) {
                    assert!(
                        matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday),
                        "{date} listed as working but is a weekday"
                    );
                }
                if let Some((earlier, other)) = seen.insert(date, (is_working, year)) {
                    assert_eq!(earlier, is_working, "{date}: {other} and {year} disagree");
                }
            }
        }
        assert!(cal().covers(date!(2007 - 01 - 01)));
        assert!(cal().covers(date!(2026 - 12 - 24)));
    }

    #[test]
    fn spring_festival_2026() {
        // 2026-02-14 (Saturday) and 2026-02-28 (Saturday) are make-up working days; the
        // holiday runs 15–23 February (Sunday to Monday).
        assert_eq!(date!(2026 - 02 - 14).weekday(), Weekday::Saturday);
        assert_eq!(cal().is_working_day(date!(2026 - 02 - 14)), Ok(true));
        assert_eq!(cal().is_working_day(date!(2026 - 02 - 28)), Ok(true));
        for day in 15..=23 {
            let d = Date::from_calendar_date(2026, Month::February, day).unwrap();
            assert_eq!(cal().is_working_day(d), Ok(false), "{d}");
        }
        assert_eq!(cal().is_working_day(date!(2026 - 02 - 24)), Ok(true));
        // An ordinary weekend nearby stays a rest day.
        assert_eq!(cal().is_working_day(date!(2026 - 03 - 07)), Ok(false));
    }

    #[test]
    fn national_day_2026() {
        // Make-up working days: Sunday 2026-09-20 and Saturday 2026-10-10.
        assert_eq!(date!(2026 - 09 - 20).weekday(), Weekday::Sunday);
        assert_eq!(cal().is_working_day(date!(2026 - 09 - 20)), Ok(true));
        assert_eq!(date!(2026 - 10 - 10).weekday(), Weekday::Saturday);
        assert_eq!(cal().is_working_day(date!(2026 - 10 - 10)), Ok(true));
        // Mid-Autumn 25–27 September and National Day 1–7 October are rest days (weekdays
        // among them included).
        assert_eq!(cal().is_working_day(date!(2026 - 09 - 25)), Ok(false));
        for day in 1..=7 {
            let d = Date::from_calendar_date(2026, Month::October, day).unwrap();
            assert_eq!(cal().is_working_day(d), Ok(false), "{d}");
        }
        assert_eq!(cal().is_working_day(date!(2026 - 10 - 08)), Ok(true));
    }

    #[test]
    fn fifteen_working_days_across_golden_week() {
        // Objection received Wednesday 2026-09-23. Working days after it: 24 Sep (Thu),
        // 28, 29, 30 Sep, then nothing until 8 Oct (Thu), 9 (Fri), 10 (Sat, make-up),
        // 12–16, 19, 20, 21.
        let received = date!(2026 - 09 - 23);
        let deadline = cal().add_working_days(received, 15).unwrap();
        assert_eq!(deadline, date!(2026 - 10 - 21));
        assert_eq!(cal().working_days_between(received, deadline), Ok(15));
        // With plain Mon–Fri rules it would have been 14 October: a week early.
        assert_eq!(
            cal().add_working_days(received, 4),
            Ok(date!(2026 - 09 - 30))
        );
        assert_eq!(
            cal().add_working_days(received, 5),
            Ok(date!(2026 - 10 - 08))
        );
        // The Saturday make-up day counts as a working day.
        assert_eq!(
            cal().add_working_days(received, 7),
            Ok(date!(2026 - 10 - 10))
        );
    }

    #[test]
    fn add_working_days_from_a_rest_day() {
        // Friday 2026-02-13 + 1 working day = Saturday 2026-02-14 (make-up day).
        assert_eq!(
            cal().add_working_days(date!(2026 - 02 - 13), 1),
            Ok(date!(2026 - 02 - 14))
        );
        // From inside the Spring Festival holiday: the first working day is 24 February.
        assert_eq!(
            cal().add_working_days(date!(2026 - 02 - 17), 1),
            Ok(date!(2026 - 02 - 24))
        );
        assert_eq!(
            cal().add_working_days(date!(2026 - 02 - 17), 0),
            Ok(date!(2026 - 02 - 17))
        );
    }

    #[test]
    fn previous_working_day() {
        // The day after Golden Week: the previous working day is before the holiday.
        assert_eq!(
            cal().previous_working_day(date!(2026 - 10 - 08)),
            Ok(date!(2026 - 09 - 30))
        );
        // Monday 2026-10-12: the Saturday make-up day before it counts.
        assert_eq!(
            cal().previous_working_day(date!(2026 - 10 - 12)),
            Ok(date!(2026 - 10 - 10))
        );
        // Strictly before: a working day does not return itself.
        assert_eq!(
            cal().previous_working_day(date!(2026 - 10 - 09)),
            Ok(date!(2026 - 10 - 08))
        );
        // Across New Year 2026 (1–3 January off, Sunday 4 January a make-up day).
        assert_eq!(
            cal().previous_working_day(date!(2026 - 01 - 05)),
            Ok(date!(2026 - 01 - 04))
        );
        assert_eq!(
            cal().previous_working_day(date!(2026 - 01 - 04)),
            Ok(date!(2025 - 12 - 31))
        );
    }

    #[test]
    fn cross_year_entries_are_merged() {
        // 2018-12-29 (Saturday) was a working day and 2018-12-31 (Monday) a rest day, both set
        // by the 2019 notice, i.e. listed only in 2019.json.
        assert_eq!(cal().is_working_day(date!(2018 - 12 - 29)), Ok(true));
        assert_eq!(cal().is_working_day(date!(2018 - 12 - 31)), Ok(false));
        assert_eq!(cal().is_working_day(date!(2022 - 12 - 31)), Ok(false)); // from 2023.json
    }

    #[test]
    fn uncovered_years_are_refused() {
        let err = CalendarError::NotCovered { year: 2027 };
        assert_eq!(
            cal().is_working_day(date!(2027 - 03 - 01)),
            Err(err.clone())
        );
        assert!(!cal().covers(date!(2027 - 01 - 04)));
        assert_eq!(
            cal().is_working_day(date!(2006 - 06 - 01)),
            Err(CalendarError::NotCovered { year: 2006 })
        );
        // Late December 2026 waits for the 2027 notice, which may move those days.
        assert!(cal().covers(date!(2026 - 12 - 24)));
        assert!(!cal().covers(date!(2026 - 12 - 25)));
        assert_eq!(
            cal().is_working_day(date!(2026 - 12 - 28)),
            Err(err.clone())
        );
        // A deadline running into the uncovered range is refused, not guessed.
        assert_eq!(
            cal().add_working_days(date!(2026 - 12 - 10), 15),
            Err(err.clone())
        );
        assert_eq!(
            cal().previous_working_day(date!(2007 - 01 - 01)),
            Err(CalendarError::NotCovered { year: 2006 })
        );
        assert_eq!(err.code(), "calendar_not_covered");
        assert!(err.to_string().contains("2027"));
        assert!(err.message_zh().contains("2027年"));
    }

    #[test]
    fn overrides_and_declared_years() {
        // A local closure on a Wednesday.
        let local = WorkingCalendar::with_overrides([(date!(2026 - 11 - 18), false)]);
        assert_eq!(local.is_working_day(date!(2026 - 11 - 18)), Ok(false));
        assert_eq!(
            local.add_working_days(date!(2026 - 11 - 17), 1),
            Ok(date!(2026 - 11 - 19))
        );
        // The embedded calendar is untouched.
        assert_eq!(cal().is_working_day(date!(2026 - 11 - 18)), Ok(true));

        // An override alone does not cover 2027 ...
        let partial = WorkingCalendar::with_overrides([(date!(2027 - 01 - 01), false)]);
        assert!(!partial.covers(date!(2027 - 01 - 01)));
        // ... declaring the year does, and also covers the end of December 2026.
        let full = partial.with_covered_years([2027]);
        assert_eq!(full.is_working_day(date!(2027 - 01 - 01)), Ok(false));
        assert_eq!(full.is_working_day(date!(2027 - 01 - 04)), Ok(true));
        assert_eq!(full.is_working_day(date!(2026 - 12 - 28)), Ok(true));
        assert_eq!(
            full.add_working_days(date!(2026 - 12 - 30), 2),
            Ok(date!(2027 - 01 - 04))
        );
        assert!(!full.covers(date!(2027 - 12 - 31)));
    }

    #[test]
    fn working_days_between_edges() {
        let d = date!(2026 - 06 - 10);
        assert_eq!(cal().working_days_between(d, d), Ok(0));
        assert_eq!(cal().working_days_between(d, date!(2026 - 06 - 01)), Ok(0));
        // Dragon Boat: Friday 19 June to Sunday 21 June off.
        assert_eq!(
            cal().working_days_between(date!(2026 - 06 - 18), date!(2026 - 06 - 22)),
            Ok(1)
        );
    }

    proptest::proptest! {
        #[test]
        fn add_and_between_agree(offset in 0_i64..6_800, n in 0_u32..40) {
            // Start anywhere in 2008-01-01 ..= mid-August 2026, so the result stays covered.
            let start = date!(2008 - 01 - 01) + time::Duration::days(offset);
            let end = cal().add_working_days(start, n).unwrap();
            proptest::prop_assert!(end >= start);
            proptest::prop_assert_eq!(cal().working_days_between(start, end), Ok(n));
            if n > 0 {
                proptest::prop_assert_eq!(cal().is_working_day(end), Ok(true));
                proptest::prop_assert_eq!(
                    cal().add_working_days(cal().previous_working_day(end).unwrap(), 1),
                    Ok(end)
                );
            }
        }
    }
}
