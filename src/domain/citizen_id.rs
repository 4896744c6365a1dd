//! Citizen identity numbers (公民身份号码 on the 居民身份证), GB 11643-1999.
//!
//! This module owns the validation of the 18-character number: a six-digit
//! address code, an eight-digit birth date, a three-digit sequence whose last
//! digit gives the sex, and an ISO 7064 MOD 11-2 check character. It knows
//! nothing of HTTP, SQL or the clock: whether a birth date lies in the future
//! is for the caller to decide with [`CitizenId::birth_date`].
//!
//! A citizen ID number is personal information. [`CitizenId`] therefore has
//! no `Display`, its `Debug` shows only the masked form, its errors never
//! carry any digit of the input, and the raw value is reachable only through
//! [`CitizenId::expose`], named so that every use can be found with grep
//! (storage and exact matching only).

use std::fmt;
use std::str::FromStr;

use crate::domain::region;
use crate::domain::uscc::normalize_code_input;

/// ISO 7064 MOD 11-2 weights for digits 1–17 (2^(18-i) mod 11).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character indexed by the weighted sum mod 11.
const CHECK_CHARACTERS: &[u8; 11] = b"10X98765432";
/// Address code of residence permits for Taiwan residents (台湾居民居住证),
/// which use the GB 11643 format but a code no region table lists.
const TAIWAN_RESIDENT_ADDRESS_CODE: &str = "830000";
/// The national code, which the region tables accept but no person lives at.
const NATIONAL_CODE: &str = "100000";
/// Earliest accepted birth year.
const MIN_BIRTH_YEAR: i32 = 1900;

/// A valid 18-character citizen ID number in canonical form (digits and an
/// upper-case `X`). Valid by construction: only [`CitizenId::parse`] (and
/// [`FromStr`]) create one.
///
/// Deliberately not `Display`; `Debug` prints the masked form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CitizenId(String);

/// Birth date encoded in characters 7–14 of a [`CitizenId`]. Always a real
/// calendar date with `year >= 1900`; ordered chronologically.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct BirthDate {
    /// Year, 1900 or later.
    pub year: i32,
    /// Month, 1–12.
    pub month: u8,
    /// Day of month, 1–31 and valid for the month.
    pub day: u8,
}

/// Why a string is not a valid [`CitizenId`]. No variant carries any part of
/// the input, so errors may be logged.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum CitizenIdError {
    /// Not 18 characters after trimming.
    #[error(
        "citizen ID number must be 18 characters, found {found}; 15-digit numbers are not accepted"
    )]
    Length {
        /// Number of characters found (after trimming).
        found: usize,
    },
    /// A non-digit among characters 1–17, or character 18 neither a digit nor X.
    #[error(
        "character at position {position} is not allowed; a citizen ID number is 17 digits followed by a digit or X"
    )]
    InvalidCharacter {
        /// 1-based position of the offending character.
        position: usize,
    },
    /// Character 18 does not match the ISO 7064 MOD 11-2 checksum.
    #[error("check digit does not match; the number was probably mistyped")]
    CheckDigit,
    /// Characters 7–14 are not a calendar date from 1900 on.
    #[error("characters 7-14 are not a valid birth date (YYYYMMDD, year 1900 or later)")]
    BirthDate,
    /// Characters 1–6 are not a known address code, nor under a known province.
    #[error("characters 1-6 are not a known administrative division address code")]
    UnknownRegion,
}

impl CitizenIdError {
    /// Stable machine-readable error code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Length { .. } => "citizen_id_length",
            Self::InvalidCharacter { .. } => "citizen_id_invalid_character",
            Self::CheckDigit => "citizen_id_check_digit",
            Self::BirthDate => "citizen_id_birth_date",
            Self::UnknownRegion => "citizen_id_unknown_region",
        }
    }

    /// The message in Simplified Chinese.
    #[must_use]
    pub fn message_zh(&self) -> String {
        match self {
            Self::Length { found } => {
                format!("公民身份号码应为18位，实际为{found}位（不接受15位旧号码）")
            }
            Self::InvalidCharacter { position } => {
                format!("公民身份号码第{position}位字符无效：前17位应为数字，第18位应为数字或X")
            }
            Self::CheckDigit => "公民身份号码校验码不符，请核对是否录入有误".to_owned(),
            Self::BirthDate => {
                "公民身份号码第7至14位不是有效的出生日期（应为1900年及以后的YYYYMMDD）".to_owned()
            }
            Self::UnknownRegion => "公民身份号码第1至6位不是已知的行政区划地址码".to_owned(),
        }
    }
}

impl CitizenId {
    /// Parses and validates an 18-character citizen ID number.
    ///
    /// Accepts surrounding whitespace, full-width (全角) digits and a
    /// lower-case or full-width `x`, and normalises them. Checks, in order:
    /// length, characters, the check digit, the birth date (a real calendar
    /// date, year >= 1900; not compared with today) and the address code.
    ///
    /// The address code is accepted if it is a current or abolished code
    /// ([`region::is_known_any_time`]) or, leniently, if its first two digits
    /// name a current province: numbers issued long ago carry county codes
    /// older than the 1981 start of the embedded history, or grouping codes
    /// (such as former "市辖区" codes) that the history does not list.
    /// `830000` (residence permits of Taiwan residents, same format) is
    /// accepted too; the national code `100000` is not an address and is
    /// rejected.
    ///
    /// # Errors
    /// The first [`CitizenIdError`] met, in the order above.
    pub fn parse(input: &str) -> Result<Self, CitizenIdError> {
        let id = normalize_code_input(input);
        let found = id.chars().count();
        if found != 18 {
            return Err(CitizenIdError::Length { found });
        }
        if let Some(index) = id
            .chars()
            .enumerate()
            .position(|(index, c)| !(c.is_ascii_digit() || (index == 17 && c == 'X')))
        {
            return Err(CitizenIdError::InvalidCharacter {
                position: index + 1,
            });
        }
        // From here on the id is 18 ASCII characters.
        let bytes = id.as_bytes();
        if check_digit_of(&bytes[..17]) != char::from(bytes[17]) {
            return Err(CitizenIdError::CheckDigit);
        }
        if birth_date_of(bytes).is_none() {
            return Err(CitizenIdError::BirthDate);
        }
        let address = &id[..6];
        let known = region::is_known_any_time(address)
            || region::is_known_province_prefix(address)
            || address == TAIWAN_RESIDENT_ADDRESS_CODE;
        // The national code is a registration level, never an address.
        if !known || address == NATIONAL_CODE {
            return Err(CitizenIdError::UnknownRegion);
        }
        Ok(Self(id))
    }

    /// The raw 18-character number.
    ///
    /// Personal information: call only to store the number or to match it
    /// exactly; never log or display the result (use [`CitizenId::masked`]).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The masked form for display and logs: the address code, eight `*`
    /// in place of the birth date, and the last four characters, e.g.
    /// `445122********123X`.
    #[must_use]
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.0[..6], &self.0[14..])
    }

    /// The birth date (characters 7–14).
    #[must_use]
    pub fn birth_date(&self) -> BirthDate {
        match birth_date_of(self.0.as_bytes()) {
            Some(date) => date,
            // Unreachable: `parse` only builds a CitizenId whose date parses,
            // and the value is immutable. The message carries no digits.
            None => unreachable!("CitizenId holds an invalid birth date"),
        }
    }

    /// Whether the holder is male (odd 17th digit); female otherwise.
    #[must_use]
    pub fn is_male(&self) -> bool {
        self.0.as_bytes()[16] % 2 == 1
    }
}

impl fmt::Debug for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CitizenId").field(&self.masked()).finish()
    }
}

impl FromStr for CitizenId {
    type Err = CitizenIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The ISO 7064 MOD 11-2 check character (`0`–`9` or `X`) for the first 17
/// digits of a number, or `None` if `first_17` is not 17 ASCII digits.
/// Useful to build test fixtures.
#[must_use]
pub fn compute_check_digit(first_17: &str) -> Option<char> {
    let bytes = first_17.as_bytes();
    (bytes.len() == 17 && bytes.iter().all(u8::is_ascii_digit)).then(|| check_digit_of(bytes))
}

/// `digits` must be 17 ASCII digits.
fn check_digit_of(digits: &[u8]) -> char {
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .map(|(&b, weight)| u32::from(b.wrapping_sub(b'0')) * weight)
        .sum();
    char::from(CHECK_CHARACTERS[(sum % 11) as usize])
}

/// Reads characters 7–14 of an 18-ASCII-digit number as a date.
fn birth_date_of(id: &[u8]) -> Option<BirthDate> {
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        id.get(range)?.iter().try_fold(0, |acc, &b| {
            b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
        })
    };
    let year = i32::try_from(number(6..10)?).ok()?;
    let month = u8::try_from(number(10..12)?).ok()?;
    let day = u8::try_from(number(12..14)?).ok()?;
    (year >= MIN_BIRTH_YEAR && (1..=12).contains(&month) && day >= 1 && day <= days_in(year, month))
        .then_some(BirthDate { year, month, day })
}

fn days_in(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn complete(first_17: &str) -> String {
        format!("{first_17}{}", compute_check_digit(first_17).unwrap())
    }

    #[test]
    fn standard_example_parses() {
        // The example in GB 11643-1999.
        let id = CitizenId::parse("11010519491231002X").unwrap();
        assert_eq!(id.expose(), "11010519491231002X");
        assert_eq!(
            id.birth_date(),
            BirthDate {
                year: 1949,
                month: 12,
                day: 31
            }
        );
        assert!(!id.is_male());
        assert_eq!(id.masked(), "110105********002X");
    }

    #[test]
    fn masked_and_debug() {
        let id = CitizenId::parse("44512219900101123X").unwrap();
        assert_eq!(id.masked(), "445122********123X");
        assert_eq!(format!("{id:?}"), "CitizenId(\"445122********123X\")");
        assert!(id.is_male());
    }

    #[test]
    fn normalises_input() {
        let expected = CitizenId::parse("11010519491231002X").unwrap();
        for input in [
            "11010519491231002x",
            " 11010519491231002X\t",
            "１１０１０５１９４９１２３１００２Ｘ",
            "\u{3000}１１０１０５１９４９１２３１００２ｘ",
        ] {
            assert_eq!(CitizenId::parse(input).as_ref(), Ok(&expected), "{input:?}");
        }
    }

    #[test]
    fn shape_errors() {
        assert_eq!(
            CitizenId::parse(""),
            Err(CitizenIdError::Length { found: 0 })
        );
        assert_eq!(
            CitizenId::parse("110105491231002"),
            Err(CitizenIdError::Length { found: 15 })
        );
        assert_eq!(
            CitizenId::parse("1101051949123100X2"),
            Err(CitizenIdError::InvalidCharacter { position: 17 })
        );
        assert_eq!(
            CitizenId::parse("11010519491231002Y"),
            Err(CitizenIdError::InvalidCharacter { position: 18 })
        );
        assert_eq!(
            CitizenId::parse("1101051949-231002X"),
            Err(CitizenIdError::InvalidCharacter { position: 11 })
        );
        assert_eq!(
            CitizenId::parse("11010519491231002 X"),
            Err(CitizenIdError::Length { found: 19 })
        );
    }

    #[test]
    fn check_digit_error_reveals_nothing() {
        let error = CitizenId::parse("110105194912310021").unwrap_err();
        assert_eq!(error, CitizenIdError::CheckDigit);
        for text in [error.to_string(), error.message_zh(), format!("{error:?}")] {
            assert!(!text.contains("1949"), "{text}");
            assert!(!text.contains('X'), "{text}");
        }
        assert_eq!(error.code(), "citizen_id_check_digit");
    }

    #[test]
    fn birth_dates() {
        for (date, ok) in [
            ("19000101", true),
            ("18991231", false),
            ("20000229", true),  // divisible by 400
            ("19000229", false), // divisible by 100
            ("20240229", true),
            ("20230229", false),
            ("19900431", false),
            ("19901301", false),
            ("19900001", false),
            ("19900100", false),
            ("99991231", true), // no clock: future dates are the caller's call
        ] {
            let id = complete(&format!("110105{date}002"));
            let result = CitizenId::parse(&id);
            if ok {
                assert!(result.is_ok(), "{date}: {result:?}");
            } else {
                assert_eq!(result, Err(CitizenIdError::BirthDate), "{date}");
            }
        }
    }

    #[test]
    fn address_codes() {
        // Current, abolished (110103 崇文区), former grouping code (440101),
        // an unlisted code under a known province, HK, and Taiwan residents.
        for address in ["445122", "110103", "440101", "370299", "810000", "830000"] {
            let id = complete(&format!("{address}19800101123"));
            assert!(CitizenId::parse(&id).is_ok(), "{address}");
        }
        for address in ["990101", "000000", "100000", "100001", "840000"] {
            let id = complete(&format!("{address}19800101123"));
            assert_eq!(
                CitizenId::parse(&id),
                Err(CitizenIdError::UnknownRegion),
                "{address}"
            );
        }
    }

    #[test]
    fn error_contract() {
        let errors = [
            CitizenIdError::Length { found: 3 },
            CitizenIdError::InvalidCharacter { position: 4 },
            CitizenIdError::CheckDigit,
            CitizenIdError::BirthDate,
            CitizenIdError::UnknownRegion,
        ];
        let mut codes = std::collections::HashSet::new();
        for error in errors {
            let text = error.to_string();
            assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
            assert!(error.code().starts_with("citizen_id_"));
            assert!(codes.insert(error.code()));
            assert!(error.message_zh().starts_with("公民身份号码"));
        }
    }

    fn address() -> impl Strategy<Value = String> {
        let mut codes = Vec::new();
        for province in region::NATIONAL.children() {
            codes.push(*province);
            for child in province.children() {
                codes.push(*child);
                codes.extend(child.children().iter().copied());
            }
        }
        prop::sample::select(codes).prop_map(|code| code.to_string())
    }

    fn birth() -> impl Strategy<Value = String> {
        (1900i32..=2100, 1u8..=12, 1u8..=31)
            .prop_filter("real calendar date", |&(y, m, d)| d <= days_in(y, m))
            .prop_map(|(y, m, d)| format!("{y:04}{m:02}{d:02}"))
    }

    fn first_17() -> impl Strategy<Value = String> {
        (address(), birth(), 0u32..1000)
            .prop_map(|(address, birth, sequence)| format!("{address}{birth}{sequence:03}"))
    }

    proptest! {
        #[test]
        fn appended_check_digit_parses(first in first_17()) {
            let id = complete(&first);
            let parsed = CitizenId::parse(&id);
            prop_assert!(parsed.is_ok(), "{id}: {parsed:?}");
            let parsed = parsed.unwrap();
            prop_assert_eq!(parsed.expose(), id.as_str());
            prop_assert_eq!(format!("{:04}{:02}{:02}", parsed.birth_date().year,
                parsed.birth_date().month, parsed.birth_date().day), &id[6..14]);
        }

        #[test]
        fn any_single_substitution_fails(
            first in first_17(),
            position in 0usize..18,
            replacement in prop::sample::select(b"0123456789X".to_vec()),
        ) {
            let id = complete(&first);
            let mut bytes = id.clone().into_bytes();
            prop_assume!(bytes[position] != replacement);
            bytes[position] = replacement;
            let altered = String::from_utf8(bytes).unwrap();
            prop_assert!(CitizenId::parse(&altered).is_err(), "{altered}");
        }

        #[test]
        fn masked_hides_birth_date(first in first_17()) {
            let id = CitizenId::parse(&complete(&first)).unwrap();
            let birth = &id.expose()[6..14];
            let masked = id.masked();
            prop_assert!(!masked.contains(birth));
            prop_assert_eq!(&masked[6..14], "********");
            prop_assert_eq!(masked.len(), 18);
            let debug = format!("{id:?}");
            prop_assert!(!debug.contains(birth));
        }

        #[test]
        fn never_panics(input in "\\PC{0,24}") {
            let _ = CitizenId::parse(&input);
        }
    }
}
