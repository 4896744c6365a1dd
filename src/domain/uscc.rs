//! Unified social credit codes (统一社会信用代码), GB 32100-2015.
//!
//! This module owns the validation and the decomposition of the 18-character
//! code that identifies every legal person and other organisation: the
//! registration authority (character 1), the subject type (1–2), the region
//! of the registration authority (3–8), the GB 11714 organisation code (9–17)
//! and the GB 32100 check character (18). It knows nothing of HTTP, SQL or
//! the clock. A USCC is public information, so it may be displayed and
//! logged in full.

use std::fmt;
use std::str::FromStr;

use crate::domain::region::{self, RegionCode};

/// The 31 characters a USCC may contain, in value order (no I, O, S, V, Z).
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// GB 32100 weights for characters 1–17 (3^(i-1) mod 31).
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
/// GB 11714 weights for the first eight characters of the organisation code.
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// A valid unified social credit code in canonical form (18 upper-case
/// half-width characters). Valid by construction: only [`Uscc::parse`]
/// (and [`FromStr`]) create one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Uscc(String);

/// Why a string is not a valid [`Uscc`].
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum UsccError {
    /// Not 18 characters after trimming.
    #[error("unified social credit code must be 18 characters, found {found}")]
    Length {
        /// Number of characters found (after trimming).
        found: usize,
    },
    /// A character outside the GB 32100 alphabet.
    #[error(
        "character {character:?} at position {position} is not allowed in a unified social credit code; use digits and capital letters except I, O, S, V and Z"
    )]
    InvalidCharacter {
        /// 1-based position of the character.
        position: usize,
        /// The character (after full-width and case normalisation).
        character: char,
    },
    /// Character 18 does not match the checksum of characters 1–17.
    #[error(
        "check character is {found:?} but the code's checksum requires {expected:?}; the code was probably mistyped"
    )]
    CheckCharacter {
        /// What the checksum requires.
        expected: char,
        /// What the code has.
        found: char,
    },
    /// Character 17 does not match the GB 11714 checksum of characters 9–16.
    #[error(
        "organization code (characters 9-17) ends in {found:?} but its GB 11714 checksum requires {expected:?}; the code was probably mistyped"
    )]
    OrganizationCodeCheck {
        /// What the organisation-code checksum requires.
        expected: char,
        /// What the code has at position 17.
        found: char,
    },
    /// Characters 3–8 are not a known administrative division code.
    #[error(
        "characters 3-8 ({region}) are not a known administrative division code; check the registration authority's region"
    )]
    UnknownRegion {
        /// Characters 3–8 as given.
        region: String,
    },
}

impl UsccError {
    /// Stable machine-readable error code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Length { .. } => "uscc_length",
            Self::InvalidCharacter { .. } => "uscc_invalid_character",
            Self::CheckCharacter { .. } => "uscc_check_character",
            Self::OrganizationCodeCheck { .. } => "uscc_organization_code_check",
            Self::UnknownRegion { .. } => "uscc_unknown_region",
        }
    }

    /// The message in Simplified Chinese.
    #[must_use]
    pub fn message_zh(&self) -> String {
        match self {
            Self::Length { found } => {
                format!("统一社会信用代码应为18位，实际为{found}位")
            }
            Self::InvalidCharacter {
                position,
                character,
            } => format!(
                "统一社会信用代码第{position}位字符{character:?}无效：只能使用数字和除I、O、S、V、Z以外的大写英文字母"
            ),
            Self::CheckCharacter { expected, found } => format!(
                "统一社会信用代码校验位错误：应为{expected:?}，实际为{found:?}，请核对是否录入有误"
            ),
            Self::OrganizationCodeCheck { expected, found } => format!(
                "统一社会信用代码中的组织机构代码（第9至17位）校验位错误：应为{expected:?}，实际为{found:?}，请核对是否录入有误"
            ),
            Self::UnknownRegion { region } => format!(
                "统一社会信用代码第3至8位（{region}）不是已知的行政区划代码，请核对登记管理机关行政区划码"
            ),
        }
    }
}

/// The registration authority (登记管理部门), character 1.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RegistrationAuthority {
    /// `1` 机构编制.
    InstitutionalEstablishment,
    /// `2` 外交.
    ForeignAffairs,
    /// `3` 司法行政.
    JusticeAdministration,
    /// `4` 文化.
    Culture,
    /// `5` 民政.
    CivilAffairs,
    /// `6` 旅游.
    Tourism,
    /// `7` 宗教.
    ReligiousAffairs,
    /// `8` 工会.
    TradeUnion,
    /// `9` 工商 (now market regulation).
    MarketRegulation,
    /// `A` 中央军委改革和编制办公室.
    MilitaryEstablishment,
    /// `N` 农业.
    Agriculture,
    /// `Y` 其他.
    Other,
    /// Any character GB 32100 does not assign.
    Unrecognized,
}

impl RegistrationAuthority {
    fn from_char(c: u8) -> Self {
        match c {
            b'1' => Self::InstitutionalEstablishment,
            b'2' => Self::ForeignAffairs,
            b'3' => Self::JusticeAdministration,
            b'4' => Self::Culture,
            b'5' => Self::CivilAffairs,
            b'6' => Self::Tourism,
            b'7' => Self::ReligiousAffairs,
            b'8' => Self::TradeUnion,
            b'9' => Self::MarketRegulation,
            b'A' => Self::MilitaryEstablishment,
            b'N' => Self::Agriculture,
            b'Y' => Self::Other,
            _ => Self::Unrecognized,
        }
    }

    /// Stable `snake_case` English name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InstitutionalEstablishment => "institutional_establishment",
            Self::ForeignAffairs => "foreign_affairs",
            Self::JusticeAdministration => "justice_administration",
            Self::Culture => "culture",
            Self::CivilAffairs => "civil_affairs",
            Self::Tourism => "tourism",
            Self::ReligiousAffairs => "religious_affairs",
            Self::TradeUnion => "trade_union",
            Self::MarketRegulation => "market_regulation",
            Self::MilitaryEstablishment => "military_establishment",
            Self::Agriculture => "agriculture",
            Self::Other => "other",
            Self::Unrecognized => "unrecognized",
        }
    }

    /// Chinese name as in GB 32100.
    #[must_use]
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::InstitutionalEstablishment => "机构编制",
            Self::ForeignAffairs => "外交",
            Self::JusticeAdministration => "司法行政",
            Self::Culture => "文化",
            Self::CivilAffairs => "民政",
            Self::Tourism => "旅游",
            Self::ReligiousAffairs => "宗教",
            Self::TradeUnion => "工会",
            Self::MarketRegulation => "工商（市场监管）",
            Self::MilitaryEstablishment => "中央军委改革和编制办公室",
            Self::Agriculture => "农业",
            Self::Other => "其他",
            Self::Unrecognized => "未识别",
        }
    }
}

/// The kind of subject (机构类别), from characters 1–2 per GB 32100.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SubjectType {
    /// `11` 机关.
    GovernmentOrgan,
    /// `12` 事业单位.
    PublicInstitution,
    /// `13` 中央编办直接管理机构编制的群众团体.
    CentrallyStaffedMassOrganization,
    /// `19` other, registered by the institutional-establishment authority.
    OtherEstablishmentRegistered,
    /// `21` 外国常驻新闻机构.
    ForeignNewsAgency,
    /// `29` other, registered by the foreign-affairs authority.
    OtherForeignAffairsRegistered,
    /// `31` 律师执业机构 (law firm).
    LawFirm,
    /// `32` 公证处.
    NotaryOffice,
    /// `33` 基层法律服务所.
    GrassrootsLegalService,
    /// `34` 司法鉴定机构.
    JudicialAppraisalInstitution,
    /// `35` 仲裁委员会.
    ArbitrationCommission,
    /// `39` other, registered by the justice-administration authority.
    OtherJusticeRegistered,
    /// `41` 外国在华文化中心.
    ForeignCulturalCentre,
    /// `49` other, registered by the culture authority.
    OtherCultureRegistered,
    /// `51` 社会团体.
    SocialOrganization,
    /// `52` 民办非企业单位.
    PrivateNonEnterpriseUnit,
    /// `53` 基金会.
    Foundation,
    /// `59` other, registered by the civil-affairs authority.
    OtherCivilAffairsRegistered,
    /// `61` 外国旅游部门常驻代表机构.
    ForeignTourismOffice,
    /// `62` 港澳台地区旅游部门常驻内地（大陆）代表机构.
    HongKongMacaoTaiwanTourismOffice,
    /// `69` other, registered by the tourism authority.
    OtherTourismRegistered,
    /// `71` 宗教活动场所.
    ReligiousVenue,
    /// `72` 宗教院校.
    ReligiousCollege,
    /// `79` other, registered by the religious-affairs authority.
    OtherReligiousAffairsRegistered,
    /// `81` 基层工会.
    TradeUnion,
    /// `89` other, registered by the trade-union authority.
    OtherTradeUnionRegistered,
    /// `91` 企业.
    Enterprise,
    /// `92` 个体工商户.
    IndividualBusiness,
    /// `93` 农民专业合作社.
    FarmersCooperative,
    /// `A1` 军队事业单位.
    MilitaryPublicInstitution,
    /// `A9` other, registered by the military establishment office.
    OtherMilitaryRegistered,
    /// `N1` 组级集体经济组织.
    GroupCollectiveEconomicOrganization,
    /// `N2` 村级集体经济组织.
    VillageCollectiveEconomicOrganization,
    /// `N3` 乡镇级集体经济组织.
    TownshipCollectiveEconomicOrganization,
    /// `N9` other, registered by the agriculture authority.
    OtherAgricultureRegistered,
    /// `Y1` registered by another authority (GB 32100 does not subdivide `Y`).
    OtherAuthorityRegistered,
    /// Any combination GB 32100 does not assign.
    Other,
}

impl SubjectType {
    fn from_chars(authority: u8, category: u8) -> Self {
        match (authority, category) {
            (b'1', b'1') => Self::GovernmentOrgan,
            (b'1', b'2') => Self::PublicInstitution,
            (b'1', b'3') => Self::CentrallyStaffedMassOrganization,
            (b'1', b'9') => Self::OtherEstablishmentRegistered,
            (b'2', b'1') => Self::ForeignNewsAgency,
            (b'2', b'9') => Self::OtherForeignAffairsRegistered,
            (b'3', b'1') => Self::LawFirm,
            (b'3', b'2') => Self::NotaryOffice,
            (b'3', b'3') => Self::GrassrootsLegalService,
            (b'3', b'4') => Self::JudicialAppraisalInstitution,
            (b'3', b'5') => Self::ArbitrationCommission,
            (b'3', b'9') => Self::OtherJusticeRegistered,
            (b'4', b'1') => Self::ForeignCulturalCentre,
            (b'4', b'9') => Self::OtherCultureRegistered,
            (b'5', b'1') => Self::SocialOrganization,
            (b'5', b'2') => Self::PrivateNonEnterpriseUnit,
            (b'5', b'3') => Self::Foundation,
            (b'5', b'9') => Self::OtherCivilAffairsRegistered,
            (b'6', b'1') => Self::ForeignTourismOffice,
            (b'6', b'2') => Self::HongKongMacaoTaiwanTourismOffice,
            (b'6', b'9') => Self::OtherTourismRegistered,
            (b'7', b'1') => Self::ReligiousVenue,
            (b'7', b'2') => Self::ReligiousCollege,
            (b'7', b'9') => Self::OtherReligiousAffairsRegistered,
            (b'8', b'1') => Self::TradeUnion,
            (b'8', b'9') => Self::OtherTradeUnionRegistered,
            (b'9', b'1') => Self::Enterprise,
            (b'9', b'2') => Self::IndividualBusiness,
            (b'9', b'3') => Self::FarmersCooperative,
            (b'A', b'1') => Self::MilitaryPublicInstitution,
            (b'A', b'9') => Self::OtherMilitaryRegistered,
            (b'N', b'1') => Self::GroupCollectiveEconomicOrganization,
            (b'N', b'2') => Self::VillageCollectiveEconomicOrganization,
            (b'N', b'3') => Self::TownshipCollectiveEconomicOrganization,
            (b'N', b'9') => Self::OtherAgricultureRegistered,
            (b'Y', b'1') => Self::OtherAuthorityRegistered,
            _ => Self::Other,
        }
    }

    /// Stable `snake_case` English name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::GovernmentOrgan => "government_organ",
            Self::PublicInstitution => "public_institution",
            Self::CentrallyStaffedMassOrganization => "centrally_staffed_mass_organization",
            Self::OtherEstablishmentRegistered => "other_establishment_registered",
            Self::ForeignNewsAgency => "foreign_news_agency",
            Self::OtherForeignAffairsRegistered => "other_foreign_affairs_registered",
            Self::LawFirm => "law_firm",
            Self::NotaryOffice => "notary_office",
            Self::GrassrootsLegalService => "grassroots_legal_service",
            Self::JudicialAppraisalInstitution => "judicial_appraisal_institution",
            Self::ArbitrationCommission => "arbitration_commission",
            Self::OtherJusticeRegistered => "other_justice_registered",
            Self::ForeignCulturalCentre => "foreign_cultural_centre",
            Self::OtherCultureRegistered => "other_culture_registered",
            Self::SocialOrganization => "social_organization",
            Self::PrivateNonEnterpriseUnit => "private_non_enterprise_unit",
            Self::Foundation => "foundation",
            Self::OtherCivilAffairsRegistered => "other_civil_affairs_registered",
            Self::ForeignTourismOffice => "foreign_tourism_office",
            Self::HongKongMacaoTaiwanTourismOffice => "hong_kong_macao_taiwan_tourism_office",
            Self::OtherTourismRegistered => "other_tourism_registered",
            Self::ReligiousVenue => "religious_venue",
            Self::ReligiousCollege => "religious_college",
            Self::OtherReligiousAffairsRegistered => "other_religious_affairs_registered",
            Self::TradeUnion => "trade_union",
            Self::OtherTradeUnionRegistered => "other_trade_union_registered",
            Self::Enterprise => "enterprise",
            Self::IndividualBusiness => "individual_business",
            Self::FarmersCooperative => "farmers_cooperative",
            Self::MilitaryPublicInstitution => "military_public_institution",
            Self::OtherMilitaryRegistered => "other_military_registered",
            Self::GroupCollectiveEconomicOrganization => "group_collective_economic_organization",
            Self::VillageCollectiveEconomicOrganization => {
                "village_collective_economic_organization"
            }
            Self::TownshipCollectiveEconomicOrganization => {
                "township_collective_economic_organization"
            }
            Self::OtherAgricultureRegistered => "other_agriculture_registered",
            Self::OtherAuthorityRegistered => "other_authority_registered",
            Self::Other => "other",
        }
    }

    /// Chinese name as in GB 32100 (for the "other" categories, with the
    /// authority spelled out).
    #[must_use]
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::GovernmentOrgan => "机关",
            Self::PublicInstitution => "事业单位",
            Self::CentrallyStaffedMassOrganization => "中央编办直接管理机构编制的群众团体",
            Self::OtherEstablishmentRegistered => "机构编制部门登记的其他机构",
            Self::ForeignNewsAgency => "外国常驻新闻机构",
            Self::OtherForeignAffairsRegistered => "外交部门登记的其他机构",
            Self::LawFirm => "律师执业机构",
            Self::NotaryOffice => "公证处",
            Self::GrassrootsLegalService => "基层法律服务所",
            Self::JudicialAppraisalInstitution => "司法鉴定机构",
            Self::ArbitrationCommission => "仲裁委员会",
            Self::OtherJusticeRegistered => "司法行政部门登记的其他机构",
            Self::ForeignCulturalCentre => "外国在华文化中心",
            Self::OtherCultureRegistered => "文化部门登记的其他机构",
            Self::SocialOrganization => "社会团体",
            Self::PrivateNonEnterpriseUnit => "民办非企业单位",
            Self::Foundation => "基金会",
            Self::OtherCivilAffairsRegistered => "民政部门登记的其他组织",
            Self::ForeignTourismOffice => "外国旅游部门常驻代表机构",
            Self::HongKongMacaoTaiwanTourismOffice => "港澳台地区旅游部门常驻内地（大陆）代表机构",
            Self::OtherTourismRegistered => "旅游部门登记的其他机构",
            Self::ReligiousVenue => "宗教活动场所",
            Self::ReligiousCollege => "宗教院校",
            Self::OtherReligiousAffairsRegistered => "宗教部门登记的其他机构",
            Self::TradeUnion => "基层工会",
            Self::OtherTradeUnionRegistered => "工会登记的其他机构",
            Self::Enterprise => "企业",
            Self::IndividualBusiness => "个体工商户",
            Self::FarmersCooperative => "农民专业合作社",
            Self::MilitaryPublicInstitution => "军队事业单位",
            Self::OtherMilitaryRegistered => "中央军委改革和编制办公室登记的其他机构",
            Self::GroupCollectiveEconomicOrganization => "组级集体经济组织",
            Self::VillageCollectiveEconomicOrganization => "村级集体经济组织",
            Self::TownshipCollectiveEconomicOrganization => "乡镇级集体经济组织",
            Self::OtherAgricultureRegistered => "农业部门登记的其他组织",
            Self::OtherAuthorityRegistered => "其他登记管理部门登记的组织",
            Self::Other => "其他",
        }
    }
}

impl Uscc {
    /// Parses and validates a unified social credit code.
    ///
    /// Accepts surrounding whitespace, lower-case letters and full-width
    /// (全角) digits and letters, and normalises them. Checks, in order:
    /// length, alphabet, the GB 32100 check character, the region part and,
    /// for the subject types where it is reliable, the GB 11714 check of the
    /// embedded organisation code.
    ///
    /// # Errors
    /// The first [`UsccError`] met, in the order above.
    pub fn parse(input: &str) -> Result<Self, UsccError> {
        let code = normalize_code_input(input);
        let found = code.chars().count();
        if found != 18 {
            return Err(UsccError::Length { found });
        }
        if let Some((index, character)) = code
            .chars()
            .enumerate()
            .find(|&(_, c)| alphabet_value(c).is_none())
        {
            return Err(UsccError::InvalidCharacter {
                position: index + 1,
                character,
            });
        }
        // From here on the code is 18 ASCII characters of the alphabet.
        let bytes = code.as_bytes();
        let expected = check_character_of(&bytes[..17]);
        let found = char::from(bytes[17]);
        if expected != found {
            return Err(UsccError::CheckCharacter { expected, found });
        }

        // Characters 3–8 are the registration authority's region. Codes
        // abolished since 1981 are accepted (a USCC never changes), and so is
        // any code under a known province: registration authorities also use
        // the former "市辖区" grouping codes (e.g. 91440101327598294H,
        // 广州市市辖区) and local development-zone codes (e.g.
        // 91320594780268314T, 苏州工业园区) that no GB/T 2260 table lists.
        let region = &code[2..8];
        if !(region::is_known_any_time(region) || region::is_known_province_prefix(region)) {
            return Err(UsccError::UnknownRegion {
                region: region.to_owned(),
            });
        }

        // Characters 9–17 are the GB 11714 organisation code, whose 9th
        // character is its own check. It is enforced only for authority 1
        // (establishment), 5 (civil affairs) or 9 (market regulation) with
        // category 1, 2 or 3 — organs, institutions, social organisations,
        // enterprises, individual businesses, cooperatives — whose body codes
        // are issued as GB 11714 organisation codes (published 92… codes with
        // MA… bodies pass it, see the tests). Other authorities do not all
        // assign their body codes by GB 11714, so a failing check there would
        // refuse a real registration whose GB 32100 check character is right.
        if organization_check_applies(bytes[0], bytes[1]) {
            let expected = organization_check_character(&bytes[8..16]);
            let found = char::from(bytes[16]);
            if expected != found {
                return Err(UsccError::OrganizationCodeCheck { expected, found });
            }
        }

        Ok(Self(code))
    }

    /// The canonical 18-character code.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The registration authority (character 1).
    #[must_use]
    pub fn registration_authority(&self) -> RegistrationAuthority {
        RegistrationAuthority::from_char(self.0.as_bytes()[0])
    }

    /// The subject type (characters 1–2).
    #[must_use]
    pub fn subject_type(&self) -> SubjectType {
        let bytes = self.0.as_bytes();
        SubjectType::from_chars(bytes[0], bytes[1])
    }

    /// Characters 3–8: the registration authority's region code, which may be
    /// abolished or a non-GB/T 2260 local code (see [`Uscc::parse`]).
    #[must_use]
    pub fn region_part(&self) -> &str {
        &self.0[2..8]
    }

    /// The region part as a current [`RegionCode`], if it is one (including
    /// `100000` for national registrations); `None` for abolished or local codes.
    #[must_use]
    pub fn registration_region(&self) -> Option<RegionCode> {
        RegionCode::parse(self.region_part()).ok()
    }

    /// Characters 9–17: the GB 11714 organisation code (主体标识码).
    #[must_use]
    pub fn organization_code(&self) -> &str {
        &self.0[8..17]
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Uscc {
    type Err = UsccError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The GB 32100 check character for the first 17 characters of a code, or
/// `None` if `first_17` is not 17 characters of the USCC alphabet (upper case,
/// half-width). Useful to build test fixtures.
#[must_use]
pub fn compute_check_character(first_17: &str) -> Option<char> {
    let bytes = first_17.as_bytes();
    (bytes.len() == 17
        && bytes
            .iter()
            .all(|&b| alphabet_value(char::from(b)).is_some()))
    .then(|| check_character_of(bytes))
}

/// The GB 11714 check character (character 17 of a USCC) of an organisation-code body
/// (characters 9–16): `None` unless `body` is 8 ASCII digits or capital letters.
#[must_use]
pub fn compute_organization_check(body: &str) -> Option<char> {
    let bytes = body.as_bytes();
    (bytes.len() == 8
        && bytes
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()))
    .then(|| organization_check_character(bytes))
}

/// Trims, maps full-width (全角) ASCII forms to half-width and upper-cases
/// ASCII letters. Shared by the citizen-ID and subject-code parsers.
pub(crate) fn normalize_code_input(input: &str) -> String {
    input
        .trim()
        .chars()
        .map(|c| match c {
            // U+FF01..=U+FF5E are the full-width forms of U+0021..=U+007E.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn alphabet_value(c: char) -> Option<u32> {
    u8::try_from(c)
        .ok()
        .and_then(|b| ALPHABET.iter().position(|&a| a == b))
        .and_then(|index| u32::try_from(index).ok())
}

/// `first_17` must be 17 alphabet characters.
fn check_character_of(first_17: &[u8]) -> char {
    let sum: u32 = first_17
        .iter()
        .zip(WEIGHTS)
        .map(|(&b, weight)| alphabet_value(char::from(b)).unwrap_or(0) * weight)
        .sum();
    let value = (31 - sum % 31) % 31;
    char::from(ALPHABET[value as usize])
}

fn organization_check_applies(authority: u8, category: u8) -> bool {
    matches!(authority, b'1' | b'5' | b'9') && matches!(category, b'1' | b'2' | b'3')
}

/// `body` must be 8 ASCII digits or capital letters; letters count A=10 … Z=35.
fn organization_check_character(body: &[u8]) -> char {
    let sum: u32 = body
        .iter()
        .zip(ORG_WEIGHTS)
        .map(|(&b, weight)| {
            let value = match b {
                b'0'..=b'9' => b - b'0',
                _ => b.saturating_sub(b'A') + 10,
            };
            u32::from(value) * weight
        })
        .sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        digit => char::from_digit(digit, 10).unwrap_or('0'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Real, published codes that satisfy both checks.
    const VALID: [&str; 10] = [
        "91100000100003962T", // national registration, region 100000
        "91350100M000100Y43",
        "91110000600001760P",
        "91440300192441969E",
        "914403001922038216",
        "91440101327598294H", // region 440101: former 广州市市辖区
        "91440101MA59LU9AX1",
        "91320594780268314T", // region 320594: 苏州工业园区, not in GB/T 2260
        "92440300MA5G9MUC9M", // individual business
        "92440300MA5F40T737",
    ];

    /// Constructed codes (check characters computed independently), also
    /// used as examples elsewhere in the crate.
    const CONSTRUCTED: [(&str, SubjectType); 3] = [
        ("91445122MA4W123460", SubjectType::Enterprise),
        ("11445122007054562X", SubjectType::GovernmentOrgan),
        ("11440000007012346G", SubjectType::GovernmentOrgan),
    ];

    #[test]
    fn constructed_examples_parse() {
        for (code, subject_type) in CONSTRUCTED {
            let uscc = Uscc::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(uscc.subject_type(), subject_type);
            assert_eq!(compute_check_character(&code[..17]), code.chars().last());
        }
        assert_eq!(compute_check_character("91445122MA4W12346"), Some('0'));
        assert_eq!(compute_check_character("91445122MA4W1234"), None);
        assert_eq!(compute_check_character("91445122MA4W1234I"), None);
    }

    fn complete(first_17: &str) -> String {
        format!("{first_17}{}", compute_check_character(first_17).unwrap())
    }

    /// 17 characters with a correct organisation-code check at position 17.
    fn with_org_check(first_8: &str, org_body: &str) -> String {
        let check = organization_check_character(org_body.as_bytes());
        complete(&format!("{first_8}{org_body}{check}"))
    }

    #[test]
    fn known_valid_examples_parse() {
        for code in VALID {
            let uscc = Uscc::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(uscc.as_str(), code);
            assert_eq!(uscc.to_string(), code);
        }
    }

    #[test]
    fn accessors() {
        let uscc = Uscc::parse("91100000100003962T").unwrap();
        assert_eq!(uscc.region_part(), "100000");
        assert_eq!(uscc.registration_region(), Some(region::NATIONAL));
        assert_eq!(uscc.organization_code(), "100003962");
        assert_eq!(
            uscc.registration_authority(),
            RegistrationAuthority::MarketRegulation
        );
        assert_eq!(uscc.subject_type(), SubjectType::Enterprise);
        assert_eq!(uscc.subject_type().as_str(), "enterprise");
        assert_eq!(uscc.subject_type().name_zh(), "企业");

        let fuzhou = Uscc::parse("91350100M000100Y43").unwrap();
        assert_eq!(fuzhou.registration_region().unwrap().name(), "福州市");
        assert_eq!(fuzhou.organization_code(), "M000100Y4");

        let guangzhou = Uscc::parse("91440101327598294H").unwrap();
        assert_eq!(guangzhou.registration_region(), None);
    }

    #[test]
    fn subject_types() {
        for (prefix, expected) in [
            ("11", SubjectType::GovernmentOrgan),
            ("12", SubjectType::PublicInstitution),
            ("31", SubjectType::LawFirm),
            ("51", SubjectType::SocialOrganization),
            ("52", SubjectType::PrivateNonEnterpriseUnit),
            ("53", SubjectType::Foundation),
            ("71", SubjectType::ReligiousVenue),
            ("81", SubjectType::TradeUnion),
            ("92", SubjectType::IndividualBusiness),
            ("93", SubjectType::FarmersCooperative),
            ("N2", SubjectType::VillageCollectiveEconomicOrganization),
            ("Y1", SubjectType::OtherAuthorityRegistered),
            ("94", SubjectType::Other),
            ("B1", SubjectType::Other),
        ] {
            let code = with_org_check(&format!("{prefix}445122"), "MA4UQY7A");
            let uscc = Uscc::parse(&code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(uscc.subject_type(), expected, "{code}");
        }
        assert_eq!(
            RegistrationAuthority::from_char(b'B'),
            RegistrationAuthority::Unrecognized
        );
        assert_eq!(
            RegistrationAuthority::from_char(b'N').as_str(),
            "agriculture"
        );
    }

    #[test]
    fn normalises_case_whitespace_and_full_width() {
        let expected = Uscc::parse("91350100M000100Y43").unwrap();
        for input in [
            " 91350100m000100y43\n",
            "９１３５０１００Ｍ０００１００Ｙ４３",
            "\u{3000}９１３５０１００ｍ０００１００ｙ４３\u{3000}",
        ] {
            assert_eq!(Uscc::parse(input).as_ref(), Ok(&expected), "{input:?}");
        }
    }

    #[test]
    fn length_errors() {
        assert_eq!(Uscc::parse(""), Err(UsccError::Length { found: 0 }));
        assert_eq!(
            Uscc::parse("91350100M000100Y4"),
            Err(UsccError::Length { found: 17 })
        );
        assert_eq!(
            Uscc::parse("91350100M000100Y433"),
            Err(UsccError::Length { found: 19 })
        );
        // Counted in characters, not bytes.
        assert_eq!(
            Uscc::parse("统一社会信用代码"),
            Err(UsccError::Length { found: 8 })
        );
    }

    #[test]
    fn invalid_characters() {
        assert_eq!(
            Uscc::parse("91350100M000100I43"),
            Err(UsccError::InvalidCharacter {
                position: 16,
                character: 'I'
            })
        );
        assert_eq!(
            Uscc::parse("9135010OM000100Y43"),
            Err(UsccError::InvalidCharacter {
                position: 8,
                character: 'O'
            })
        );
        assert_eq!(
            Uscc::parse("91350100M000-00Y43"),
            Err(UsccError::InvalidCharacter {
                position: 13,
                character: '-'
            })
        );
        assert_eq!(
            Uscc::parse("91350100M000100Y4统"),
            Err(UsccError::InvalidCharacter {
                position: 18,
                character: '统'
            })
        );
    }

    #[test]
    fn check_character_error() {
        let error = Uscc::parse("91100000100003962U").unwrap_err();
        assert_eq!(
            error,
            UsccError::CheckCharacter {
                expected: 'T',
                found: 'U'
            }
        );
        assert_eq!(
            error.to_string(),
            "check character is 'U' but the code's checksum requires 'T'; the code was probably mistyped"
        );
        assert_eq!(error.code(), "uscc_check_character");
        assert_eq!(
            error.message_zh(),
            "统一社会信用代码校验位错误：应为'T'，实际为'U'，请核对是否录入有误"
        );
    }

    #[test]
    fn organization_code_check() {
        // GB 32100 check character correct, GB 11714 check wrong (should be '0').
        assert_eq!(
            Uscc::parse("911101087921139524"),
            Err(UsccError::OrganizationCodeCheck {
                expected: '0',
                found: '2'
            })
        );
        // The same body: individual businesses (92) are checked too …
        let individual = complete("92110108792113952");
        assert!(matches!(
            Uscc::parse(&individual),
            Err(UsccError::OrganizationCodeCheck { .. })
        ));
        // … while law firms (31) and other authorities (Y1) are not.
        for head in ["31", "Y1", "94", "14"] {
            let code = complete(&format!("{head}110108792113952"));
            assert!(Uscc::parse(&code).is_ok(), "{code}");
        }
        // Org-code check results 10 → 'X' and 11 → '0'.
        assert_eq!(organization_check_character(b"71093123"), 'X');
        assert_eq!(organization_check_character(b"60000176"), '0');
        assert_eq!(organization_check_character(b"M000100Y"), '4');
    }

    #[test]
    fn unknown_region() {
        let code = with_org_check("91990101", "MA4UQY7A");
        assert_eq!(
            Uscc::parse(&code),
            Err(UsccError::UnknownRegion {
                region: "990101".to_owned()
            })
        );
        let letters = with_org_check("9144A100", "MA4UQY7A");
        assert!(matches!(
            Uscc::parse(&letters),
            Err(UsccError::UnknownRegion { .. })
        ));
        // Abolished 110103 崇文区 is accepted.
        let abolished = with_org_check("91110103", "MA4UQY7A");
        assert!(Uscc::parse(&abolished).is_ok());
    }

    #[test]
    fn error_contract() {
        let errors = [
            UsccError::Length { found: 3 },
            UsccError::InvalidCharacter {
                position: 2,
                character: 'I',
            },
            UsccError::CheckCharacter {
                expected: '3',
                found: 'T',
            },
            UsccError::OrganizationCodeCheck {
                expected: '0',
                found: '2',
            },
            UsccError::UnknownRegion {
                region: "990101".to_owned(),
            },
        ];
        let mut codes = std::collections::HashSet::new();
        for error in errors {
            let text = error.to_string();
            assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
            assert!(error.code().starts_with("uscc_"));
            assert!(codes.insert(error.code()));
            assert!(error.message_zh().starts_with("统一社会信用代码"));
        }
    }

    fn alphabet_char() -> impl Strategy<Value = char> {
        prop::sample::select(ALPHABET.map(char::from).to_vec())
    }

    fn current_region() -> impl Strategy<Value = String> {
        let mut codes = vec![region::NATIONAL];
        codes.extend(region::NATIONAL.children().iter().copied());
        for province in region::NATIONAL.children() {
            for child in province.children() {
                codes.push(*child);
                codes.extend(child.children().iter().copied());
            }
        }
        prop::sample::select(codes).prop_map(|code| code.to_string())
    }

    /// Any 17 characters with a known region and a consistent organisation
    /// code, so that every subject type is covered.
    fn first_17() -> impl Strategy<Value = String> {
        (
            prop::collection::vec(alphabet_char(), 2),
            current_region(),
            prop::collection::vec(alphabet_char(), 8),
        )
            .prop_map(|(head, region, body)| {
                let head: String = head.into_iter().collect();
                let body: String = body.into_iter().collect();
                let check = organization_check_character(body.as_bytes());
                format!("{head}{region}{body}{check}")
            })
    }

    proptest! {
        #[test]
        fn appended_check_character_parses(first in first_17()) {
            let code = complete(&first);
            let uscc = Uscc::parse(&code);
            prop_assert!(uscc.is_ok(), "{code}: {uscc:?}");
            let lower = code.to_ascii_lowercase();
            prop_assert_eq!(Uscc::parse(&lower).map(|u| u.as_str().to_owned()), Ok(code));
        }

        #[test]
        fn any_single_substitution_fails(
            first in first_17(),
            position in 0usize..18,
            replacement in alphabet_char(),
        ) {
            let code = complete(&first);
            let mut chars: Vec<char> = code.chars().collect();
            prop_assume!(chars[position] != replacement);
            chars[position] = replacement;
            let altered: String = chars.into_iter().collect();
            prop_assert!(Uscc::parse(&altered).is_err(), "{altered}");
        }

        #[test]
        fn never_panics(input in "\\PC{0,24}") {
            let _ = Uscc::parse(&input);
        }
    }
}
