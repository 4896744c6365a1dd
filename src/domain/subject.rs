//! The identifier of the subject of an integrity record: an organisation's
//! unified social credit code or a natural person's citizen ID number.
//!
//! This module owns telling the two apart from a single input field and the
//! rules for storing and showing the result (citizen IDs are always masked
//! for display). It knows nothing of HTTP, SQL or the clock.

use std::str::FromStr;

use crate::domain::citizen_id::{CitizenId, CitizenIdError};
use crate::domain::uscc::{Uscc, UsccError, normalize_code_input};

/// A validated subject identifier.
///
/// Deliberately not `Display` (a citizen ID must not be shown by accident);
/// `Debug` masks citizen IDs. Use [`SubjectCode::display_masked`] to show it.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum SubjectCode {
    /// An organisation, by unified social credit code (public information).
    Uscc(Uscc),
    /// A natural person, by citizen ID number (personal information).
    Citizen(CitizenId),
}

/// Why a string is not a valid [`SubjectCode`].
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum SubjectCodeError {
    /// Not 18 characters after trimming, so neither kind of code.
    #[error(
        "subject code must be 18 characters (a unified social credit code or a citizen ID number), found {found}"
    )]
    Length {
        /// Number of characters found (after trimming).
        found: usize,
    },
    /// The input was taken for a unified social credit code and is invalid.
    #[error(transparent)]
    Uscc(#[from] UsccError),
    /// The input was taken for a citizen ID number and is invalid.
    #[error(transparent)]
    Citizen(#[from] CitizenIdError),
}

impl SubjectCodeError {
    /// Stable machine-readable error code: `subject_code_length`, or the
    /// code of the wrapped [`UsccError`] / [`CitizenIdError`].
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Length { .. } => "subject_code_length",
            Self::Uscc(error) => error.code(),
            Self::Citizen(error) => error.code(),
        }
    }

    /// The message in Simplified Chinese.
    #[must_use]
    pub fn message_zh(&self) -> String {
        match self {
            Self::Length { found } => {
                format!("主体代码应为18位（统一社会信用代码或公民身份号码），实际为{found}位")
            }
            Self::Uscc(error) => error.message_zh(),
            Self::Citizen(error) => error.message_zh(),
        }
    }
}

impl SubjectCode {
    /// Parses either kind of code from one input field, after the same
    /// normalisation as the individual parsers (trim, full-width to
    /// half-width, upper case).
    ///
    /// The kind is decided by form: 17 digits followed by a digit or `X`
    /// whose characters 7–14 look like a date (`19`/`20` year, month 01–12,
    /// day 01–31) is tried as a citizen ID first, then as a USCC (a USCC can
    /// take that form); anything else is parsed as a USCC. A string valid as
    /// both is taken as a citizen ID, so that it is masked rather than
    /// exposed. When both fail, the error is the citizen-ID one for the
    /// citizen-ID form and the USCC one otherwise.
    ///
    /// # Errors
    /// [`SubjectCodeError::Length`] unless 18 characters, otherwise the
    /// wrapped error of the more plausible kind.
    pub fn parse(input: &str) -> Result<Self, SubjectCodeError> {
        let code = normalize_code_input(input);
        let found = code.chars().count();
        if found != 18 {
            return Err(SubjectCodeError::Length { found });
        }
        if has_citizen_id_form(code.as_bytes()) {
            match CitizenId::parse(&code) {
                Ok(id) => Ok(Self::Citizen(id)),
                Err(citizen_error) => Uscc::parse(&code)
                    .map(Self::Uscc)
                    .map_err(|_| SubjectCodeError::Citizen(citizen_error)),
            }
        } else {
            Ok(Self::Uscc(Uscc::parse(&code)?))
        }
    }

    /// `"uscc"` or `"citizen_id"`.
    #[must_use]
    pub const fn kind_str(&self) -> &'static str {
        match self {
            Self::Uscc(_) => "uscc",
            Self::Citizen(_) => "citizen_id",
        }
    }

    /// The canonical raw code, for storage and exact matching only. For a
    /// citizen this is [`CitizenId::expose`]: never log or display it.
    #[must_use]
    pub fn storage_key(&self) -> &str {
        match self {
            Self::Uscc(uscc) => uscc.as_str(),
            Self::Citizen(id) => id.expose(),
        }
    }

    /// The form to display or log: a USCC as is, a citizen ID masked
    /// (`445122********123X`).
    #[must_use]
    pub fn display_masked(&self) -> String {
        match self {
            Self::Uscc(uscc) => uscc.as_str().to_owned(),
            Self::Citizen(id) => id.masked(),
        }
    }
}

impl FromStr for SubjectCode {
    type Err = SubjectCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// 17 ASCII digits, then a digit or `X`, with a date-like characters 7–14.
fn has_citizen_id_form(code: &[u8]) -> bool {
    let [digits @ .., last] = code else {
        return false;
    };
    if digits.len() != 17
        || !digits.iter().all(u8::is_ascii_digit)
        || !(last.is_ascii_digit() || *last == b'X')
    {
        return false;
    }
    let pair = |at: usize| (digits[at] - b'0') * 10 + (digits[at + 1] - b'0');
    matches!(pair(6), 19 | 20) && (1..=12).contains(&pair(10)) && (1..=31).contains(&pair(12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uscc() {
        let subject = SubjectCode::parse("91350100m000100y43").unwrap();
        assert!(matches!(subject, SubjectCode::Uscc(_)));
        assert_eq!(subject.kind_str(), "uscc");
        assert_eq!(subject.storage_key(), "91350100M000100Y43");
        assert_eq!(subject.display_masked(), "91350100M000100Y43");
        // All digits, but characters 7–14 are not date-like.
        let digits = SubjectCode::parse("914403001922038216").unwrap();
        assert_eq!(digits.kind_str(), "uscc");
    }

    #[test]
    fn citizen() {
        let subject = SubjectCode::parse("１１０１０５１９４９１２３１００２ｘ").unwrap();
        assert!(matches!(subject, SubjectCode::Citizen(_)));
        assert_eq!(subject.kind_str(), "citizen_id");
        assert_eq!(subject.storage_key(), "11010519491231002X");
        assert_eq!(subject.display_masked(), "110105********002X");
        assert!(!format!("{subject:?}").contains("19491231"));
    }

    #[test]
    fn valid_as_both_is_a_citizen() {
        // USCC 12|110119|90010173-9|1 and ID 121101|19900101|739|1.
        let code = "121101199001017391";
        assert!(Uscc::parse(code).is_ok());
        assert!(CitizenId::parse(code).is_ok());
        assert_eq!(SubjectCode::parse(code).unwrap().kind_str(), "citizen_id");
    }

    #[test]
    fn errors_pick_the_plausible_kind() {
        assert_eq!(
            SubjectCode::parse("1101051949123"),
            Err(SubjectCodeError::Length { found: 13 })
        );
        assert_eq!(
            SubjectCode::parse("110105194912310021"),
            Err(SubjectCodeError::Citizen(CitizenIdError::CheckDigit))
        );
        assert_eq!(
            SubjectCode::parse("91100000100003962U"),
            Err(SubjectCodeError::Uscc(UsccError::CheckCharacter {
                expected: 'T',
                found: 'U'
            }))
        );
        let error = SubjectCode::parse("110105194912310021").unwrap_err();
        assert_eq!(error.code(), "citizen_id_check_digit");
        assert_eq!(error.to_string(), CitizenIdError::CheckDigit.to_string());
        assert_eq!(error.message_zh(), CitizenIdError::CheckDigit.message_zh());
        let length = SubjectCode::parse("").unwrap_err();
        assert_eq!(length.code(), "subject_code_length");
        assert!(length.to_string().starts_with("subject code must be"));
        assert!(length.message_zh().starts_with("主体代码"));
    }

    #[test]
    fn form_detection() {
        assert!(has_citizen_id_form(b"11010519491231002X"));
        assert!(has_citizen_id_form(b"110105200001010021"));
        assert!(!has_citizen_id_form(b"110105189912310021"));
        assert!(!has_citizen_id_form(b"110105194913310021"));
        assert!(!has_citizen_id_form(b"110105194912000021"));
        assert!(!has_citizen_id_form(b"1101051949123100X2"));
        assert!(!has_citizen_id_form(b"91350100M000100Y43"));
        assert!(!has_citizen_id_form(b"1101051949123100"));
    }
}
