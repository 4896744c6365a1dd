//! Normalisation and fuzzy matching of Chinese company and person names.
//!
//! Used to screen bidders of public-procurement projects against dishonesty
//! lists (失信被执行人名单 etc.), where the same enterprise appears in many
//! spellings: with or without an administrative-region prefix (`广州市…`),
//! with the region in brackets (`华为技术（深圳）有限公司`), in traditional
//! characters, in full-width Latin/digits, with different legal-form suffixes,
//! or as a branch of the listed company.
//!
//! # Tiers
//!
//! 1. **`key`** – exact tier.  The name after character folding (full-width →
//!    half-width, upper-case Latin, traditional → simplified), punctuation
//!    removal, bracket handling, branch split, legal-form removal and
//!    region-prefix removal.  Two names with the same `key` are very likely the
//!    same enterprise or a branch of it; use it for hash-index look-ups.
//! 2. **`core`** – trade-name (字号) tier.  `key` with trailing industry /
//!    business-scope words (科技, 计算机, 系统, 建筑工程, 集团, …) removed.  Looser:
//!    related companies of one group share a `core` (腾讯计算机系统 / 腾讯科技 → 腾讯).
//!    Good for candidate generation, not for automatic decisions.
//! 3. **[`similarity`]** – fuzzy tier: character-bigram Dice coefficient over
//!    `key`, with a floor for equal `core`s.  [`explain`] renders the reason in
//!    English and Chinese for the reviewer.
//!
//! All tables (traditional/simplified pairs, region names, industry words) are
//! sorted static arrays searched by binary search; no regexes, no lazy
//! initialisation, and the only heap allocations of [`normalize_company`] are
//! the output strings and the notes vector.  Every step is linear in the input
//! length (prefix/suffix look-ups are bounded by the longest table entry).

use std::cmp::Ordering;

/// Machine-readable notes recorded in [`NormalizedName::notes`], one per rule
/// that changed the name.  Notes appear in a fixed order (the order below).
pub mod note {
    /// Full-width Latin letters or digits (U+FF10–U+FF5A) were converted to
    /// half-width.  Full-width punctuation, brackets and the ideographic space
    /// are folded too but only count as punctuation.
    pub const FULLWIDTH: &str = "fullwidth_to_halfwidth";
    /// Traditional (or variant) characters were converted to simplified.
    pub const TRADITIONAL: &str = "traditional_to_simplified";
    /// Whitespace or punctuation (outside the handled brackets) was removed.
    pub const PUNCTUATION: &str = "punctuation_removed";
    /// A bracketed region such as `（深圳）` was removed into `region_prefix`.
    pub const BRACKET_REGION: &str = "bracket_region_removed";
    /// A bracketed legal-form annotation such as `（有限合伙）` was moved to `legal_form`.
    pub const BRACKET_LEGAL_FORM: &str = "bracket_legal_form_removed";
    /// Other bracket content (e.g. `（集团）`) was kept, without the brackets.
    pub const BRACKET_KEPT: &str = "bracket_content_kept";
    /// Brackets were unbalanced; stray brackets were dropped, unclosed content kept.
    pub const UNBALANCED_BRACKETS: &str = "unbalanced_brackets";
    /// The name is a branch (分公司, 分行, 支行, …); `key` is the parent's key.
    pub const BRANCH: &str = "branch";
    /// A legal-form suffix was removed into `legal_form`.
    pub const LEGAL_FORM: &str = "legal_form_stripped";
    /// A legal-form suffix was recognised but kept because fewer than two
    /// characters would remain (e.g. the name `有限公司`).
    pub const LEGAL_FORM_KEPT: &str = "legal_form_kept_name_too_short";
    /// An administrative-region prefix was removed into `region_prefix`.
    pub const REGION_PREFIX: &str = "region_prefix_stripped";
    /// A region prefix was recognised but kept because fewer than two
    /// characters would remain (e.g. `北京市A有限公司`).
    pub const REGION_KEPT: &str = "region_prefix_kept_name_too_short";
    /// `core` differs from `key`: trailing industry words were removed.
    pub const INDUSTRY_WORDS: &str = "industry_words_removed_in_core";
}

/// Legal (organisational) form of an enterprise, taken from the name suffix or
/// from a bracketed annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegalForm {
    /// 有限责任公司 / 有限公司 (the Company Law allows both spellings for one form).
    LimitedLiability,
    /// 股份有限公司 / 股份公司.
    JointStock,
    /// Bare 公司 or 总公司 (typically older state-owned enterprises).
    Company,
    /// 合伙企业 without a qualifier.
    Partnership,
    /// 普通合伙 / 普通合伙企业.
    GeneralPartnership,
    /// 特殊普通合伙 (used by accounting and law firms).
    SpecialGeneralPartnership,
    /// 有限合伙 / 有限合伙企业.
    LimitedPartnership,
    /// 个人独资企业.
    SoleProprietorship,
    /// 个体工商户.
    IndividualBusiness,
    /// 经营部 / 商行 / 门市部: trading-unit suffixes of individual or small businesses.
    TradingUnit,
    /// 专业合作社 / 农民专业合作社.
    Cooperative,
    /// Latin-script forms: Co., Ltd. / Limited / Inc. / Corp. / LLC / GmbH.
    Foreign,
}

impl LegalForm {
    /// Chinese label used in explanations (the common spelling, e.g. `有限公司`).
    pub fn as_chinese(self) -> &'static str {
        match self {
            LegalForm::LimitedLiability => "有限公司",
            LegalForm::JointStock => "股份有限公司",
            LegalForm::Company => "公司",
            LegalForm::Partnership => "合伙企业",
            LegalForm::GeneralPartnership => "普通合伙",
            LegalForm::SpecialGeneralPartnership => "特殊普通合伙",
            LegalForm::LimitedPartnership => "有限合伙",
            LegalForm::SoleProprietorship => "个人独资企业",
            LegalForm::IndividualBusiness => "个体工商户",
            LegalForm::TradingUnit => "经营部/商行",
            LegalForm::Cooperative => "专业合作社",
            LegalForm::Foreign => "Co., Ltd.",
        }
    }

    /// English label.
    pub fn as_english(self) -> &'static str {
        match self {
            LegalForm::LimitedLiability => "limited liability company",
            LegalForm::JointStock => "company limited by shares",
            LegalForm::Company => "company",
            LegalForm::Partnership => "partnership",
            LegalForm::GeneralPartnership => "general partnership",
            LegalForm::SpecialGeneralPartnership => "special general partnership",
            LegalForm::LimitedPartnership => "limited partnership",
            LegalForm::SoleProprietorship => "sole proprietorship",
            LegalForm::IndividualBusiness => "individual business",
            LegalForm::TradingUnit => "trading unit",
            LegalForm::Cooperative => "cooperative",
            LegalForm::Foreign => "foreign-style company",
        }
    }
}

/// Result of [`normalize_company`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NormalizedName {
    /// Exact-match key: folded name without region, legal form, branch part,
    /// whitespace or punctuation.  Empty only for empty / punctuation-only input.
    pub key: String,
    /// Looser trade-name tier: `key` without trailing industry words (at least
    /// two characters are always kept; equals `key` when nothing was removed).
    pub core: String,
    /// Region(s) removed from the name: the leading prefix (`广东省广州市天河区`)
    /// followed by any bracketed region (`深圳`), in folded form.
    pub region_prefix: Option<String>,
    /// Legal form taken from the suffix or a bracketed annotation.
    pub legal_form: Option<LegalForm>,
    /// True if the name denotes a branch (分公司, 分行, 支行, 分店, 分厂, 营业部,
    /// 分所, 办事处); `key` is then the parent's key.
    pub branch: bool,
    /// The branch part of the name (e.g. `深圳分公司`), when `branch` is true.
    pub branch_name: Option<String>,
    /// Which rules changed the name; values are the constants in [`note`].
    pub notes: Vec<&'static str>,
}

// ----------------------------------------------------------------------------
// Character folding
// ----------------------------------------------------------------------------

const F_FULLWIDTH: u16 = 1;
const F_TRAD: u16 = 1 << 1;
const F_PUNCT: u16 = 1 << 2;
const F_BRACKET_REGION: u16 = 1 << 3;
const F_BRACKET_FORM: u16 = 1 << 4;
const F_BRACKET_KEPT: u16 = 1 << 5;
const F_UNBALANCED: u16 = 1 << 6;
const F_BRANCH: u16 = 1 << 7;
const F_LEGAL: u16 = 1 << 8;
const F_LEGAL_KEPT: u16 = 1 << 9;
const F_REGION: u16 = 1 << 10;
const F_REGION_KEPT: u16 = 1 << 11;
const F_INDUSTRY: u16 = 1 << 12;

/// Flag → note, in output order.
const FLAG_NOTES: [(u16, &str); 13] = [
    (F_FULLWIDTH, note::FULLWIDTH),
    (F_TRAD, note::TRADITIONAL),
    (F_PUNCT, note::PUNCTUATION),
    (F_BRACKET_REGION, note::BRACKET_REGION),
    (F_BRACKET_FORM, note::BRACKET_LEGAL_FORM),
    (F_BRACKET_KEPT, note::BRACKET_KEPT),
    (F_UNBALANCED, note::UNBALANCED_BRACKETS),
    (F_BRANCH, note::BRANCH),
    (F_LEGAL, note::LEGAL_FORM),
    (F_LEGAL_KEPT, note::LEGAL_FORM_KEPT),
    (F_REGION, note::REGION_PREFIX),
    (F_REGION_KEPT, note::REGION_KEPT),
    (F_INDUSTRY, note::INDUSTRY_WORDS),
];

/// Folds one character; shared by company and person normalisation.
///
/// * U+FF01–U+FF5E (full-width ASCII) → U+0021–U+007E, U+3000 → space
///   (the NFKC result for these characters, without pulling in NFKC tables);
/// * lower-case Latin → upper case (ASCII, and Latin-1/Extended-A/B when the
///   upper case is a single character, e.g. `é` → `É`);
/// * traditional → simplified via binary search in [`TRAD_SIMP`].
#[inline]
fn fold_char(c: char, flags: &mut u16) -> char {
    let cp = c as u32;
    if cp < 0x80 {
        return c.to_ascii_uppercase();
    }
    if (0xFF01..=0xFF5E).contains(&cp) {
        let h = char::from_u32(cp - 0xFEE0).unwrap_or(c);
        if h.is_ascii_alphanumeric() {
            *flags |= F_FULLWIDTH;
        }
        return h.to_ascii_uppercase();
    }
    if cp == 0x3000 {
        return ' ';
    }
    if cp < 0x250 {
        if c.is_lowercase() {
            let mut up = c.to_uppercase();
            if let (Some(u), None) = (up.next(), up.next()) {
                return u;
            }
        }
        return c;
    }
    if cp >= 0x4E00 {
        return match TRAD_SIMP.binary_search_by(|p| p.0.cmp(&c)) {
            Ok(i) => {
                *flags |= F_TRAD;
                TRAD_SIMP[i].1
            }
            Err(_) => c,
        };
    }
    c
}

/// Converts one traditional (or variant) character to simplified; other
/// characters are returned unchanged.
pub fn to_simplified(c: char) -> char {
    match TRAD_SIMP.binary_search_by(|p| p.0.cmp(&c)) {
        Ok(i) => TRAD_SIMP[i].1,
        Err(_) => c,
    }
}

/// Letters and digits are kept; fast paths for ASCII and CJK ideographs
/// before the general Unicode table look-up of `char::is_alphanumeric`.
#[inline]
fn is_word_char(c: char) -> bool {
    let cp = c as u32;
    if cp < 0x80 {
        return c.is_ascii_alphanumeric();
    }
    if (0x4E00..=0x9FFF).contains(&cp) || (0x3400..=0x4DBF).contains(&cp) {
        return true;
    }
    c.is_alphanumeric()
}

#[inline]
fn is_open_bracket(c: char) -> bool {
    // Full-width （［｛ are already folded to ( [ {.
    matches!(c, '(' | '[' | '{' | '【' | '〔' | '〖' | '〘' | '⦅')
}

#[inline]
fn is_close_bracket(c: char) -> bool {
    matches!(c, ')' | ']' | '}' | '】' | '〕' | '〗' | '〙' | '⦆')
}

// ----------------------------------------------------------------------------
// Small string helpers (all allocation-free)
// ----------------------------------------------------------------------------

/// Longest region name, in characters (checked by a test).
const MAX_REGION_CHARS: usize = 11;
/// Minimum number of characters a name must keep after removing a region
/// prefix or a legal form: the trade name (字号) of a registered enterprise
/// has at least two characters.
const MIN_REMAINING_CHARS: usize = 2;

/// True if `s` has at least `n` characters (stops counting early).
#[inline]
fn has_chars(s: &str, n: usize) -> bool {
    n == 0 || s.chars().nth(n - 1).is_some()
}

/// Range of `table` for character `c` in a `(char, start, end)` index.
#[inline]
fn index_range(index: &[(char, u16, u16)], c: char) -> Option<(usize, usize)> {
    index
        .binary_search_by(|e| e.0.cmp(&c))
        .ok()
        .map(|i| (index[i].1 as usize, index[i].2 as usize))
}

/// Byte length of the longest region name (≥ 2 characters) that is a prefix
/// of `s`: [`REGION_INDEX`] gives the few entries sharing the first
/// character, which are checked with `starts_with`.
fn region_prefix_in(s: &str) -> Option<usize> {
    let (lo, hi) = index_range(&REGION_INDEX, s.chars().next()?)?;
    REGIONS[lo..hi]
        .iter()
        .filter(|r| s.starts_with(**r))
        .map(|r| r.len())
        .max()
}

/// Byte length of the longest industry word that is a suffix of `s`
/// ([`INDUSTRY_INDEX`] is keyed by the last character).
fn industry_suffix_in(s: &str) -> Option<usize> {
    let (lo, hi) = index_range(&INDUSTRY_INDEX, s.chars().next_back()?)?;
    INDUSTRY_WORDS[lo..hi]
        .iter()
        .filter(|r| s.ends_with(**r))
        .map(|r| r.len())
        .max()
}

/// Byte length of the longest suffix of `s` with 2..=`max_chars` characters
/// that is an entry of the sorted `table`.
fn longest_suffix_in(s: &str, table: &[&str], max_chars: usize) -> Option<usize> {
    let mut starts = [0usize; 16];
    let mut n = 0;
    for (i, _) in s.char_indices().rev() {
        if n == max_chars.min(starts.len()) {
            break;
        }
        starts[n] = i;
        n += 1;
    }
    (2..=n)
        .rev()
        .map(|k| starts[k - 1])
        .find(|&b| table.binary_search(&&s[b..]).is_ok())
        .map(|b| s.len() - b)
}

// ----------------------------------------------------------------------------
// Regions
// ----------------------------------------------------------------------------

/// Is `s` entirely made of region names (e.g. `深圳`, `广东深圳`, `中国`)?
/// Used for bracket content.  `中国` counts here (`西门子（中国）有限公司`), but
/// is never stripped as a leading prefix, where it is part of registered names.
fn is_region_sequence(s: &str) -> bool {
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("中国") {
            rest = r;
        } else if let Some(n) = region_prefix_in(rest) {
            rest = &rest[n..];
        } else {
            return false;
        }
    }
    true
}

/// Generic county-level prefix (there are ~2,800 county-level units, too many
/// to list): `XX县`, `XXX县`, `X…族自治县`, `X…自治旗` at any level, and — only right after a
/// province/city prefix was removed (`after_region`) — `XX区`, `XX新区`,
/// `XX市` (county-level city) and `XX旗` … `XXXX旗`.  Returns the byte length.
fn county_prefix(s: &str, after_region: bool) -> Option<usize> {
    if s.starts_with("中国") || s.starts_with("中华") {
        return None;
    }
    let mut chars = [('\0', 0usize); 12];
    let mut n = 0;
    for (i, c) in s.char_indices().take(chars.len()) {
        chars[n] = (c, i);
        n += 1;
    }
    // Byte offset where character `k` starts (= length of the first k chars).
    let end_of = |k: usize| if k < n { chars[k].1 } else { s.len() };
    // Ethnic autonomous counties / banners: `长白朝鲜族自治县`, `鄂伦春自治旗`.
    for &(_, at) in chars.iter().take(n.min(9)).skip(2) {
        for unit in ["自治县", "自治旗"] {
            if s[at..].starts_with(unit) {
                return Some(at + unit.len());
            }
        }
    }
    for stem in 2..=4 {
        if stem >= n {
            break;
        }
        let (c, at) = chars[stem];
        if c == '县' && stem <= 3 {
            return Some(end_of(stem + 1));
        }
        if !after_region {
            continue;
        }
        if stem == 2 {
            let next = if stem + 1 < n {
                chars[stem + 1].0
            } else {
                '\0'
            };
            // Guards: `花卉市场`, `华南区域`, `宏达市政工程` are not county-level units.
            // Without the `市政` guard every `<region><2-character trade name>市政工程…`
            // (municipal engineering, among the commonest names in construction bidding)
            // had the key `政工程`: at ten million list entries one such bidder met
            // hundreds of unrelated entries on the exact-name tier.
            if (c == '区' && next != '域') || (c == '市' && next != '场' && next != '政') {
                return Some(end_of(stem + 1));
            }
            if s[at..].starts_with("新区") {
                return Some(at + "新区".len());
            }
        }
        if c == '旗' {
            return Some(end_of(stem + 1));
        }
    }
    None
}

// ----------------------------------------------------------------------------
// Legal forms and branches
// ----------------------------------------------------------------------------

/// Legal-form suffixes, ordered by decreasing length in characters so that the
/// first match is the longest (checked by a test).  Latin entries (`true`)
/// must start at a Latin word boundary of the original input.
static LEGAL_FORMS: [(&str, LegalForm, bool); 26] = [
    ("COMPANYLIMITED", LegalForm::Foreign, true),
    ("CORPORATION", LegalForm::Foreign, true),
    (
        "特殊普通合伙企业",
        LegalForm::SpecialGeneralPartnership,
        false,
    ),
    ("农民专业合作社", LegalForm::Cooperative, false),
    ("LIMITED", LegalForm::Foreign, true),
    ("股份有限公司", LegalForm::JointStock, false),
    ("有限责任公司", LegalForm::LimitedLiability, false),
    ("个人独资企业", LegalForm::SoleProprietorship, false),
    ("普通合伙企业", LegalForm::GeneralPartnership, false),
    ("有限合伙企业", LegalForm::LimitedPartnership, false),
    ("个体工商户", LegalForm::IndividualBusiness, false),
    ("专业合作社", LegalForm::Cooperative, false),
    ("COLTD", LegalForm::Foreign, true),
    ("有限公司", LegalForm::LimitedLiability, false),
    ("股份公司", LegalForm::JointStock, false),
    ("合伙企业", LegalForm::Partnership, false),
    ("GMBH", LegalForm::Foreign, true),
    ("CORP", LegalForm::Foreign, true),
    ("总公司", LegalForm::Company, false),
    ("经营部", LegalForm::TradingUnit, false),
    ("门市部", LegalForm::TradingUnit, false),
    ("LTD", LegalForm::Foreign, true),
    ("INC", LegalForm::Foreign, true),
    ("LLC", LegalForm::Foreign, true),
    ("商行", LegalForm::TradingUnit, false),
    ("公司", LegalForm::Company, false),
];

/// Legal-form annotations recognised as the whole content of a bracket.
static BRACKET_FORMS: [(&str, LegalForm); 6] = [
    ("普通合伙", LegalForm::GeneralPartnership),
    ("有限合伙", LegalForm::LimitedPartnership),
    ("特殊普通合伙", LegalForm::SpecialGeneralPartnership),
    ("个体工商户", LegalForm::IndividualBusiness),
    ("个人独资", LegalForm::SoleProprietorship),
    ("个人独资企业", LegalForm::SoleProprietorship),
];

/// Suffixes marking a branch office.
static BRANCH_SUFFIXES: [&str; 8] = [
    "分公司",
    "分行",
    "支行",
    "分店",
    "分厂",
    "营业部",
    "分所",
    "办事处",
];

/// Words ending the parent's name inside a branch name (`…有限公司|深圳分公司`,
/// `中国银行|深圳分行`, `…事务所|深圳分所`, `…集团|广州分公司`).
static PARENT_MARKERS: [&str; 4] = ["公司", "银行", "事务所", "集团"];

// ----------------------------------------------------------------------------
// normalize_company
// ----------------------------------------------------------------------------

const MAX_BRACKET_DEPTH: usize = 8;

/// Working state of the first pass.
struct Scan {
    buf: String,
    flags: u16,
    bracket_region: Option<String>,
    bracket_form: Option<LegalForm>,
    /// Byte offsets (in `buf`) where the last few Latin words started.
    latin_starts: [usize; 4],
    latin_n: usize,
}

impl Scan {
    fn close_bracket(&mut self, start: usize) {
        let content = &self.buf[start..];
        if content.is_empty() {
            return;
        }
        if let Some(&(_, f)) = BRACKET_FORMS.iter().find(|(t, _)| *t == content) {
            self.bracket_form = Some(f);
            self.flags |= F_BRACKET_FORM;
            self.buf.truncate(start);
        } else if is_region_sequence(content) {
            self.bracket_region
                .get_or_insert_with(String::new)
                .push_str(content);
            self.flags |= F_BRACKET_REGION;
            self.buf.truncate(start);
        } else {
            self.flags |= F_BRACKET_KEPT;
        }
    }

    fn is_latin_start(&self, at: usize) -> bool {
        self.latin_starts[..self.latin_n.min(4)].contains(&at)
    }
}

/// Step 1: character folding, punctuation removal and bracket handling, in
/// one left-to-right pass over the input.
fn scan_company(name: &str) -> Scan {
    let mut s = Scan {
        buf: String::with_capacity(name.len()),
        flags: 0,
        bracket_region: None,
        bracket_form: None,
        latin_starts: [usize::MAX; 4],
        latin_n: 0,
    };
    let mut stack = [0usize; MAX_BRACKET_DEPTH];
    let mut depth = 0;
    let mut in_latin_word = false;
    for raw in name.chars() {
        // (a) full-width → half-width, upper case, traditional → simplified.
        let c = fold_char(raw, &mut s.flags);
        if is_open_bracket(c) {
            // (b) brackets: remember where the content starts in `buf` …
            if depth < MAX_BRACKET_DEPTH {
                stack[depth] = s.buf.len();
                depth += 1;
            } else {
                s.flags |= F_UNBALANCED;
            }
            in_latin_word = false;
        } else if is_close_bracket(c) {
            // … and decide on close: region → removed, legal form → removed,
            // anything else → kept without the brackets.
            if depth == 0 {
                s.flags |= F_UNBALANCED;
            } else {
                depth -= 1;
                s.close_bracket(stack[depth]);
            }
            in_latin_word = false;
        } else if is_word_char(c) {
            // (c) letters (incl. CJK ideographs) and digits are kept.
            if c.is_ascii_alphanumeric() {
                if !in_latin_word {
                    s.latin_starts[s.latin_n % 4] = s.buf.len();
                    s.latin_n += 1;
                }
                in_latin_word = true;
            } else {
                in_latin_word = false;
            }
            s.buf.push(c);
        } else {
            // (d) whitespace, ASCII/CJK punctuation and symbols are dropped:
            // ，。、·・“”‘’《》「」-—_/&… (they do not distinguish enterprises).
            s.flags |= F_PUNCT;
            in_latin_word = false;
        }
    }
    if depth > 0 {
        s.flags |= F_UNBALANCED;
    }
    s
}

/// Step 2: branch split.  `XX有限公司YY分公司` → parent `XX有限公司`, branch
/// name `YY分公司`.  Without a parent marker (公司/银行/事务所/集团) a trailing
/// region before the suffix is split off (`中国银行深圳分行`); otherwise only
/// the suffix is.  Returns the branch part.
fn split_branch(buf: &mut String, flags: &mut u16) -> Option<String> {
    let suffix = BRANCH_SUFFIXES.iter().find(|s| buf.ends_with(*s))?;
    let head = &buf[..buf.len() - suffix.len()];
    if !has_chars(head, MIN_REMAINING_CHARS) {
        return None;
    }
    let marker_end = PARENT_MARKERS
        .iter()
        .filter_map(|m| head.rfind(m).map(|i| i + m.len()))
        .max();
    let cut = match marker_end {
        Some(e) => e,
        None => match longest_suffix_in(head, &REGIONS, MAX_REGION_CHARS) {
            Some(r) if has_chars(&head[..head.len() - r], MIN_REMAINING_CHARS) => head.len() - r,
            _ => head.len(),
        },
    };
    *flags |= F_BRANCH;
    let branch = buf[cut..].to_string();
    buf.truncate(cut);
    Some(branch)
}

/// Step 3: legal-form suffix (longest match).  Not removed when fewer than
/// two characters would remain — the name `有限公司` keeps key `有限公司`
/// rather than an empty key that would collide with every other such name.
fn strip_legal_form(scan: &mut Scan) -> Option<LegalForm> {
    for &(text, form, latin) in LEGAL_FORMS.iter() {
        if !scan.buf.ends_with(text) {
            continue;
        }
        let start = scan.buf.len() - text.len();
        if latin && !scan.is_latin_start(start) {
            continue; // e.g. "ZINC" must not lose "INC"
        }
        if !has_chars(&scan.buf[..start], MIN_REMAINING_CHARS) {
            scan.flags |= F_LEGAL_KEPT;
            return None;
        }
        scan.buf.truncate(start);
        scan.flags |= F_LEGAL;
        return Some(form);
    }
    None
}

/// Step 4: leading administrative regions, repeatedly (province, city,
/// county): `广东省广州市天河区…`, `揭阳市揭西县…`, `北京…`.  Returns the byte
/// length of the removed prefix.
fn region_prefix_len(buf: &str, flags: &mut u16) -> usize {
    let mut cut = 0;
    for level in 0..4 {
        let rest = &buf[cut..];
        let m = region_prefix_in(rest).or_else(|| county_prefix(rest, level > 0));
        match m {
            Some(n) if has_chars(&rest[n..], MIN_REMAINING_CHARS) => cut += n,
            Some(_) => {
                *flags |= F_REGION_KEPT;
                break;
            }
            None => break,
        }
    }
    if cut > 0 {
        *flags |= F_REGION;
    }
    cut
}

/// Step 5: `core` = `key` without trailing industry words (longest match,
/// repeated; stops when fewer than two characters would remain).
/// A leading `中国`/`中华` does not count towards the two characters
/// (`中国建筑集团` → `中国建筑`, not the meaningless `中国`).
fn core_len(key: &str) -> usize {
    let protected = if key.starts_with("中国") || key.starts_with("中华") {
        "中国".len()
    } else {
        0
    };
    let mut end = key.len();
    for _ in 0..8 {
        match industry_suffix_in(&key[..end]) {
            Some(n)
                if end - n >= protected
                    && has_chars(&key[protected..end - n], MIN_REMAINING_CHARS) =>
            {
                end -= n
            }
            _ => break,
        }
    }
    end
}

/// Normalises a company name for exact (`key`), trade-name (`core`) and fuzzy
/// matching.
///
/// Steps, in order:
/// 1. one pass over the characters: full-width → half-width (U+FF01–U+FF5E,
///    U+3000), Latin → upper case, traditional → simplified; whitespace and
///    punctuation dropped; brackets (half-/full-width `()`, `[]`, `【】`, `〔〕`…)
///    handled on close: a region (`（深圳）`, `（广东深圳）`, `（中国）`) is removed
///    into `region_prefix`, a partnership / individual-business annotation
///    (`（有限合伙）`, `（特殊普通合伙）`, `（普通合伙）`, `（个体工商户）`) into
///    `legal_form`, anything else (`（集团）`) is kept without the brackets;
/// 2. branch split (`XX有限公司YY分公司` → key of `XX有限公司`, `branch_name` YY分公司);
/// 3. legal-form suffix removal (longest match, ≥ 2 characters must remain);
///    `集团`, `厂` and `事务所` are **kept** (see below);
/// 4. leading region removal (34 provincial-level units in full and short form,
///    333 prefecture-level units, directly administered county-level cities,
///    generic `XX县`/`XX区`/`XX市`/`XX旗` after a city); ≥ 2 characters must
///    remain; `中国`/`中华` are never stripped;
/// 5. `core` = key without trailing industry words (a leading `中国`/`中华`
///    plus at least two more characters are kept).
///
/// Decisions: `集团` stays in the key (`中国建筑集团` and `中国建筑` are different
/// legal entities; they meet in the `core` tier).  `厂` and `事务所` stay (they
/// are part of the registered name: `第一机床厂`, `会计师事务所`), while
/// `经营部`/`商行`/`门市部` are trading-unit forms of individual businesses and are
/// stripped.  A name consisting only of a legal form keeps it as its key.
/// Bare city names are stripped like `X市` because the naming rules allow the
/// administrative-region name with or without its suffix; this means e.g.
/// `黄山旅游发展` → key `旅游发展` (region `黄山`), so callers comparing keys
/// should also look at `region_prefix` (see [`explain`]).
pub fn normalize_company(name: &str) -> NormalizedName {
    // Step 1: fold characters, drop punctuation, handle brackets.
    let mut scan = scan_company(name);
    // Step 2: split off a branch part; the rest is the parent's name.
    let branch_name = split_branch(&mut scan.buf, &mut scan.flags);
    // Step 3: legal-form suffix.  A bracketed partnership annotation
    // (`（有限合伙）`) is more specific than the suffix `合伙企业`, so it wins.
    let suffix_form = strip_legal_form(&mut scan);
    let legal_form = scan.bracket_form.or(suffix_form);
    let mut flags = scan.flags;

    // Step 4: leading region prefix, in place (no new buffer for the key).
    let mut key = scan.buf;
    let cut = region_prefix_len(&key, &mut flags);
    let region_prefix = match (cut, scan.bracket_region) {
        (0, br) => br,
        (c, br) => {
            let mut r = String::with_capacity(c + br.as_ref().map_or(0, String::len));
            r.push_str(&key[..c]);
            if let Some(b) = br {
                r.push_str(&b);
            }
            key.replace_range(..c, "");
            Some(r)
        }
    };

    // Step 5: trade-name tier.
    let cl = core_len(&key);
    if cl != key.len() {
        flags |= F_INDUSTRY;
    }
    let core = key[..cl].to_string();

    let mut notes = Vec::new();
    if flags != 0 {
        notes.reserve_exact(flags.count_ones() as usize);
        notes.extend(
            FLAG_NOTES
                .iter()
                .filter(|(f, _)| flags & f != 0)
                .map(|(_, n)| *n),
        );
    }
    NormalizedName {
        key,
        core,
        region_prefix,
        legal_form,
        branch: branch_name.is_some(),
        branch_name,
        notes,
    }
}

// ----------------------------------------------------------------------------
// Persons
// ----------------------------------------------------------------------------

/// Normalises a person's name: full-width → half-width, traditional →
/// simplified, Latin upper-cased, whitespace, invisible characters and the
/// separator dots of minority / foreign names removed (`·` U+00B7, `•` U+2022,
/// `‧` U+2027, `・` U+30FB, `･` U+FF65, `∙` U+2219, `⋅` U+22C5, and `.` /
/// `．`, which are commonly typed instead: `艾力.买买提`).
pub fn normalize_person(name: &str) -> String {
    let mut flags = 0;
    let mut out = String::with_capacity(name.len());
    for raw in name.chars() {
        let c = fold_char(raw, &mut flags);
        let drop = c.is_whitespace()
            || matches!(
                c,
                '·' | '•' | '‧' | '・' | '･' | '∙' | '⋅' | '.' | '\u{200B}'
                    ..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
            );
        if !drop {
            out.push(c);
        }
    }
    out
}

// ----------------------------------------------------------------------------
// Fuzzy tier
// ----------------------------------------------------------------------------

/// Score given to two names whose keys differ but whose `core` (trade name)
/// is equal, when the bigram score is lower.
pub const CORE_MATCH_SCORE: f32 = 0.8;

/// Sørensen–Dice coefficient over character bigrams (multiset).
fn bigram_dice(a: &str, b: &str) -> f32 {
    let ca: Vec<char> = a.chars().collect();
    let cb: Vec<char> = b.chars().collect();
    if ca.len() < 2 || cb.len() < 2 {
        return if ca == cb && !ca.is_empty() { 1.0 } else { 0.0 };
    }
    let mut ba: Vec<(char, char)> = ca.windows(2).map(|w| (w[0], w[1])).collect();
    let mut bb: Vec<(char, char)> = cb.windows(2).map(|w| (w[0], w[1])).collect();
    ba.sort_unstable();
    bb.sort_unstable();
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < ba.len() && j < bb.len() {
        match ba[i].cmp(&bb[j]) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    (2 * common) as f32 / (ba.len() + bb.len()) as f32
}

/// Similarity of two normalised company names in `0.0..=1.0`.
///
/// * `1.0` if the keys are equal (and non-empty); `0.0` if either key is empty;
/// * otherwise the Sørensen–Dice coefficient over the character bigrams of the
///   keys, raised to [`CORE_MATCH_SCORE`] when the `core`s are equal.
///
/// Why bigram Dice rather than Jaro-Winkler: Chinese names are short and
/// carry their distinguishing part in any position; Jaro-Winkler rewards
/// long common prefixes, so `中国建筑第八工程局` vs `中国建筑第七工程局` scores
/// ≈ 0.95 although they are different enterprises, whereas Dice gives 0.75.
/// Bigrams also capture two-character words (字号, 行业) and are insensitive to
/// word order changes such as moved industry words.  Suggested use: ≥ 0.9
/// strong candidate, 0.75–0.9 manual review.
pub fn similarity(a: &NormalizedName, b: &NormalizedName) -> f32 {
    if a.key.is_empty() || b.key.is_empty() {
        return 0.0;
    }
    if a.key == b.key {
        return 1.0;
    }
    let d = bigram_dice(&a.key, &b.key);
    if a.core == b.core && !a.core.is_empty() {
        d.max(CORE_MATCH_SCORE)
    } else {
        d
    }
}

/// Short human-readable reason for the relation of two names, in English and
/// Chinese separated by ` / `, e.g.
/// `same name 建筑工程 after removing region prefix 广州市 and legal form 有限公司 /
/// 去除地区前缀（广州市）与组织形式（有限公司）后名称相同`.
pub fn explain(a: &NormalizedName, b: &NormalizedName) -> String {
    if a.key.is_empty() || b.key.is_empty() {
        return "cannot compare: empty name / 名称为空，无法比较".to_string();
    }
    if a.key == b.key {
        let mut en: Vec<String> = Vec::new();
        let mut zh: Vec<String> = Vec::new();
        match (&a.region_prefix, &b.region_prefix) {
            (Some(x), Some(y)) if x != y => {
                en.push(format!("different region prefixes {x} vs {y}"));
                zh.push(format!("不同地区前缀（{x}/{y}）"));
            }
            (Some(x), _) | (None, Some(x)) => {
                en.push(format!("region prefix {x}"));
                zh.push(format!("地区前缀（{x}）"));
            }
            (None, None) => {}
        }
        match (a.legal_form, b.legal_form) {
            (Some(x), Some(y)) if x != y => {
                en.push(format!(
                    "different legal forms {} vs {}",
                    x.as_chinese(),
                    y.as_chinese()
                ));
                zh.push(format!(
                    "不同组织形式（{}/{}）",
                    x.as_chinese(),
                    y.as_chinese()
                ));
            }
            (Some(x), _) | (None, Some(x)) => {
                en.push(format!("legal form {}", x.as_chinese()));
                zh.push(format!("组织形式（{}）", x.as_chinese()));
            }
            (None, None) => {}
        }
        match (&a.branch_name, &b.branch_name) {
            (Some(x), Some(y)) if x != y => {
                en.push(format!("different branches {x} vs {y}"));
                zh.push(format!("不同分支机构（{x}/{y}）"));
            }
            (Some(x), _) | (None, Some(x)) => {
                en.push(format!("branch {x}"));
                zh.push(format!("分支机构（{x}）"));
            }
            (None, None) => {}
        }
        let has = |n: &str| a.notes.contains(&n) || b.notes.contains(&n);
        let mut conv_en: Vec<&str> = Vec::new();
        let mut conv_zh: Vec<&str> = Vec::new();
        if has(note::TRADITIONAL) {
            conv_en.push("converting traditional to simplified");
            conv_zh.push("繁简转换");
        }
        if has(note::FULLWIDTH) {
            conv_en.push("converting full-width characters");
            conv_zh.push("全角转半角");
        }
        let key = &a.key;
        if en.is_empty() && conv_en.is_empty() {
            return format!("identical normalized name {key} / 规范化后名称相同（{key}）");
        }
        let mut parts_en: Vec<String> = Vec::new();
        if !en.is_empty() {
            parts_en.push(format!("removing {}", en.join(" and ")));
        }
        parts_en.extend(conv_en.iter().map(|s| s.to_string()));
        let zh_text = match (zh.is_empty(), conv_zh.is_empty()) {
            (false, true) => format!("去除{}后名称相同", zh.join("与")),
            (false, false) => format!("去除{}并经{}后名称相同", zh.join("与"), conv_zh.join("、")),
            _ => format!("经{}后名称相同", conv_zh.join("、")),
        };
        return format!("same name {key} after {} / {zh_text}", parts_en.join(", "));
    }
    if a.core == b.core && !a.core.is_empty() {
        return format!(
            "same trade name {} after removing industry words ({} vs {}) / 去除行业用语后字号相同（{}）",
            a.core, a.key, b.key, a.core
        );
    }
    let d = bigram_dice(&a.key, &b.key);
    if d >= 0.5 {
        format!(
            "similar names {} vs {} (bigram Dice {d:.2}) / 名称相似（二元组相似度{d:.2}）",
            a.key, b.key
        )
    } else {
        format!(
            "different names {} vs {} (bigram Dice {d:.2}) / 名称不同（二元组相似度{d:.2}）",
            a.key, b.key
        )
    }
}

// ----------------------------------------------------------------------------
// Tables (generated by tools/gen_tables.py from hand-typed data; sorted)
// ----------------------------------------------------------------------------

/// Traditional → simplified pairs, sorted by the traditional code point (1216 pairs).
static TRAD_SIMP: [(char, char); 1216] = [
    ('亂', '乱'),
    ('亞', '亚'),
    ('佔', '占'),
    ('來', '来'),
    ('侖', '仑'),
    ('侶', '侣'),
    ('俠', '侠'),
    ('倆', '俩'),
    ('倉', '仓'),
    ('個', '个'),
    ('們', '们'),
    ('倫', '伦'),
    ('偉', '伟'),
    ('側', '侧'),
    ('偵', '侦'),
    ('偽', '伪'),
    ('傑', '杰'),
    ('傘', '伞'),
    ('備', '备'),
    ('傢', '家'),
    ('傭', '佣'),
    ('傳', '传'),
    ('債', '债'),
    ('傷', '伤'),
    ('傾', '倾'),
    ('僅', '仅'),
    ('僑', '侨'),
    ('僥', '侥'),
    ('僱', '雇'),
    ('價', '价'),
    ('儀', '仪'),
    ('億', '亿'),
    ('儈', '侩'),
    ('儉', '俭'),
    ('償', '偿'),
    ('優', '优'),
    ('儲', '储'),
    ('兒', '儿'),
    ('內', '内'),
    ('兩', '两'),
    ('冊', '册'),
    ('冪', '幂'),
    ('凍', '冻'),
    ('凜', '凛'),
    ('凱', '凯'),
    ('別', '别'),
    ('刪', '删'),
    ('則', '则'),
    ('剛', '刚'),
    ('創', '创'),
    ('劃', '划'),
    ('劇', '剧'),
    ('劉', '刘'),
    ('劊', '刽'),
    ('劍', '剑'),
    ('劑', '剂'),
    ('劵', '券'),
    ('勁', '劲'),
    ('動', '动'),
    ('務', '务'),
    ('勝', '胜'),
    ('勞', '劳'),
    ('勢', '势'),
    ('勳', '勋'),
    ('勵', '励'),
    ('勸', '劝'),
    ('勻', '匀'),
    ('匯', '汇'),
    ('區', '区'),
    ('協', '协'),
    ('卻', '却'),
    ('厭', '厌'),
    ('厰', '厂'),
    ('厲', '厉'),
    ('參', '参'),
    ('叢', '丛'),
    ('吳', '吴'),
    ('呂', '吕'),
    ('員', '员'),
    ('問', '问'),
    ('啞', '哑'),
    ('啟', '启'),
    ('喚', '唤'),
    ('喪', '丧'),
    ('喬', '乔'),
    ('單', '单'),
    ('喲', '哟'),
    ('嗆', '呛'),
    ('嗎', '吗'),
    ('嗚', '呜'),
    ('嘔', '呕'),
    ('嘗', '尝'),
    ('嘩', '哗'),
    ('嘯', '啸'),
    ('噓', '嘘'),
    ('噴', '喷'),
    ('噸', '吨'),
    ('嚇', '吓'),
    ('嚨', '咙'),
    ('嚴', '严'),
    ('囂', '嚣'),
    ('囑', '嘱'),
    ('國', '国'),
    ('圍', '围'),
    ('園', '园'),
    ('圓', '圆'),
    ('圖', '图'),
    ('團', '团'),
    ('執', '执'),
    ('堅', '坚'),
    ('堯', '尧'),
    ('場', '场'),
    ('塊', '块'),
    ('塗', '涂'),
    ('塢', '坞'),
    ('塵', '尘'),
    ('塹', '堑'),
    ('墊', '垫'),
    ('墜', '坠'),
    ('墮', '堕'),
    ('墳', '坟'),
    ('墾', '垦'),
    ('壇', '坛'),
    ('壓', '压'),
    ('壘', '垒'),
    ('壞', '坏'),
    ('壟', '垄'),
    ('壯', '壮'),
    ('壺', '壶'),
    ('壽', '寿'),
    ('夠', '够'),
    ('夢', '梦'),
    ('夥', '伙'),
    ('夾', '夹'),
    ('奪', '夺'),
    ('奮', '奋'),
    ('妝', '妆'),
    ('娛', '娱'),
    ('婁', '娄'),
    ('婦', '妇'),
    ('媽', '妈'),
    ('嬌', '娇'),
    ('嬰', '婴'),
    ('嬸', '婶'),
    ('孫', '孙'),
    ('學', '学'),
    ('孿', '孪'),
    ('寢', '寝'),
    ('實', '实'),
    ('寧', '宁'),
    ('審', '审'),
    ('寫', '写'),
    ('寬', '宽'),
    ('寶', '宝'),
    ('將', '将'),
    ('專', '专'),
    ('尋', '寻'),
    ('對', '对'),
    ('導', '导'),
    ('屆', '届'),
    ('屍', '尸'),
    ('屜', '屉'),
    ('屢', '屡'),
    ('層', '层'),
    ('屬', '属'),
    ('岡', '冈'),
    ('峯', '峰'),
    ('島', '岛'),
    ('峽', '峡'),
    ('崗', '岗'),
    ('嶄', '崭'),
    ('嶺', '岭'),
    ('嶼', '屿'),
    ('嶽', '岳'),
    ('巋', '岿'),
    ('巒', '峦'),
    ('巖', '岩'),
    ('帥', '帅'),
    ('師', '师'),
    ('帳', '帐'),
    ('帶', '带'),
    ('幀', '帧'),
    ('幟', '帜'),
    ('幣', '币'),
    ('幫', '帮'),
    ('幹', '干'),
    ('幾', '几'),
    ('庫', '库'),
    ('廁', '厕'),
    ('廂', '厢'),
    ('廄', '厩'),
    ('廈', '厦'),
    ('廚', '厨'),
    ('廟', '庙'),
    ('廠', '厂'),
    ('廢', '废'),
    ('廣', '广'),
    ('廬', '庐'),
    ('廳', '厅'),
    ('張', '张'),
    ('強', '强'),
    ('彈', '弹'),
    ('彌', '弥'),
    ('彎', '弯'),
    ('彙', '汇'),
    ('彥', '彦'),
    ('後', '后'),
    ('徑', '径'),
    ('從', '从'),
    ('復', '复'),
    ('徵', '征'),
    ('徹', '彻'),
    ('悅', '悦'),
    ('悶', '闷'),
    ('惡', '恶'),
    ('惱', '恼'),
    ('愛', '爱'),
    ('態', '态'),
    ('慣', '惯'),
    ('慫', '怂'),
    ('慮', '虑'),
    ('慶', '庆'),
    ('憂', '忧'),
    ('憐', '怜'),
    ('憑', '凭'),
    ('憤', '愤'),
    ('憫', '悯'),
    ('憲', '宪'),
    ('憶', '忆'),
    ('懇', '恳'),
    ('應', '应'),
    ('懲', '惩'),
    ('懷', '怀'),
    ('懸', '悬'),
    ('懼', '惧'),
    ('懾', '慑'),
    ('戀', '恋'),
    ('戰', '战'),
    ('戲', '戏'),
    ('戶', '户'),
    ('挾', '挟'),
    ('掃', '扫'),
    ('掄', '抡'),
    ('掙', '挣'),
    ('揀', '拣'),
    ('揚', '扬'),
    ('換', '换'),
    ('揮', '挥'),
    ('損', '损'),
    ('搖', '摇'),
    ('搶', '抢'),
    ('摟', '搂'),
    ('摯', '挚'),
    ('摳', '抠'),
    ('撈', '捞'),
    ('撓', '挠'),
    ('撚', '捻'),
    ('撥', '拨'),
    ('撫', '抚'),
    ('撲', '扑'),
    ('撻', '挞'),
    ('撾', '挝'),
    ('擁', '拥'),
    ('擄', '掳'),
    ('擇', '择'),
    ('擊', '击'),
    ('擋', '挡'),
    ('擔', '担'),
    ('據', '据'),
    ('擠', '挤'),
    ('擬', '拟'),
    ('擰', '拧'),
    ('擱', '搁'),
    ('擲', '掷'),
    ('擴', '扩'),
    ('擻', '擞'),
    ('擾', '扰'),
    ('攆', '撵'),
    ('攏', '拢'),
    ('攔', '拦'),
    ('攜', '携'),
    ('攝', '摄'),
    ('攢', '攒'),
    ('攣', '挛'),
    ('攤', '摊'),
    ('攪', '搅'),
    ('攬', '揽'),
    ('敘', '叙'),
    ('敵', '敌'),
    ('數', '数'),
    ('斂', '敛'),
    ('斬', '斩'),
    ('斷', '断'),
    ('時', '时'),
    ('晉', '晋'),
    ('晝', '昼'),
    ('暈', '晕'),
    ('暢', '畅'),
    ('暫', '暂'),
    ('曆', '历'),
    ('曉', '晓'),
    ('曠', '旷'),
    ('曬', '晒'),
    ('書', '书'),
    ('會', '会'),
    ('東', '东'),
    ('柵', '栅'),
    ('條', '条'),
    ('棄', '弃'),
    ('棗', '枣'),
    ('棟', '栋'),
    ('棧', '栈'),
    ('棲', '栖'),
    ('楊', '杨'),
    ('楓', '枫'),
    ('業', '业'),
    ('極', '极'),
    ('榮', '荣'),
    ('構', '构'),
    ('槍', '枪'),
    ('槓', '杠'),
    ('槳', '桨'),
    ('樁', '桩'),
    ('樂', '乐'),
    ('樓', '楼'),
    ('標', '标'),
    ('樞', '枢'),
    ('樣', '样'),
    ('樸', '朴'),
    ('樹', '树'),
    ('橋', '桥'),
    ('機', '机'),
    ('橢', '椭'),
    ('橫', '横'),
    ('檔', '档'),
    ('檢', '检'),
    ('檯', '台'),
    ('檸', '柠'),
    ('櫃', '柜'),
    ('櫻', '樱'),
    ('欄', '栏'),
    ('權', '权'),
    ('欽', '钦'),
    ('歎', '叹'),
    ('歐', '欧'),
    ('歡', '欢'),
    ('歲', '岁'),
    ('歷', '历'),
    ('歸', '归'),
    ('殘', '残'),
    ('殲', '歼'),
    ('殺', '杀'),
    ('殼', '壳'),
    ('毆', '殴'),
    ('氈', '毡'),
    ('氣', '气'),
    ('氫', '氢'),
    ('汙', '污'),
    ('沒', '没'),
    ('況', '况'),
    ('洶', '汹'),
    ('涼', '凉'),
    ('淒', '凄'),
    ('淚', '泪'),
    ('淨', '净'),
    ('淪', '沦'),
    ('淵', '渊'),
    ('淺', '浅'),
    ('渙', '涣'),
    ('減', '减'),
    ('渦', '涡'),
    ('測', '测'),
    ('渾', '浑'),
    ('湊', '凑'),
    ('湧', '涌'),
    ('湯', '汤'),
    ('準', '准'),
    ('溝', '沟'),
    ('溫', '温'),
    ('滄', '沧'),
    ('滅', '灭'),
    ('滙', '汇'),
    ('滬', '沪'),
    ('滯', '滞'),
    ('滲', '渗'),
    ('滾', '滚'),
    ('滿', '满'),
    ('漁', '渔'),
    ('漚', '沤'),
    ('漢', '汉'),
    ('漣', '涟'),
    ('漬', '渍'),
    ('漲', '涨'),
    ('漸', '渐'),
    ('漿', '浆'),
    ('潑', '泼'),
    ('潔', '洁'),
    ('潛', '潜'),
    ('潤', '润'),
    ('潰', '溃'),
    ('澀', '涩'),
    ('澆', '浇'),
    ('澇', '涝'),
    ('澗', '涧'),
    ('澤', '泽'),
    ('澱', '淀'),
    ('濁', '浊'),
    ('濃', '浓'),
    ('濕', '湿'),
    ('濘', '泞'),
    ('濟', '济'),
    ('濤', '涛'),
    ('濫', '滥'),
    ('濰', '潍'),
    ('濱', '滨'),
    ('濺', '溅'),
    ('濾', '滤'),
    ('瀉', '泻'),
    ('瀋', '沈'),
    ('瀘', '泸'),
    ('瀝', '沥'),
    ('瀾', '澜'),
    ('灑', '洒'),
    ('灘', '滩'),
    ('灣', '湾'),
    ('灤', '滦'),
    ('災', '灾'),
    ('為', '为'),
    ('烏', '乌'),
    ('烴', '烃'),
    ('無', '无'),
    ('煉', '炼'),
    ('煙', '烟'),
    ('煥', '焕'),
    ('熒', '荧'),
    ('熱', '热'),
    ('燈', '灯'),
    ('燒', '烧'),
    ('燙', '烫'),
    ('營', '营'),
    ('燦', '灿'),
    ('燭', '烛'),
    ('燴', '烩'),
    ('燼', '烬'),
    ('爍', '烁'),
    ('爐', '炉'),
    ('爛', '烂'),
    ('爭', '争'),
    ('爺', '爷'),
    ('爾', '尔'),
    ('牀', '床'),
    ('牆', '墙'),
    ('牽', '牵'),
    ('犧', '牺'),
    ('狀', '状'),
    ('狹', '狭'),
    ('猙', '狰'),
    ('猶', '犹'),
    ('獄', '狱'),
    ('獅', '狮'),
    ('獎', '奖'),
    ('獨', '独'),
    ('獰', '狞'),
    ('獲', '获'),
    ('獵', '猎'),
    ('獸', '兽'),
    ('獺', '獭'),
    ('獻', '献'),
    ('現', '现'),
    ('瑣', '琐'),
    ('瑩', '莹'),
    ('瑪', '玛'),
    ('環', '环'),
    ('瓊', '琼'),
    ('甕', '瓮'),
    ('產', '产'),
    ('産', '产'),
    ('畝', '亩'),
    ('畢', '毕'),
    ('畫', '画'),
    ('異', '异'),
    ('當', '当'),
    ('疊', '叠'),
    ('痙', '痉'),
    ('瘋', '疯'),
    ('瘍', '疡'),
    ('瘧', '疟'),
    ('療', '疗'),
    ('癢', '痒'),
    ('癬', '癣'),
    ('癰', '痈'),
    ('癱', '瘫'),
    ('發', '发'),
    ('皺', '皱'),
    ('盜', '盗'),
    ('盞', '盏'),
    ('盡', '尽'),
    ('監', '监'),
    ('盤', '盘'),
    ('盧', '卢'),
    ('眾', '众'),
    ('睜', '睁'),
    ('瞞', '瞒'),
    ('矚', '瞩'),
    ('矯', '矫'),
    ('硯', '砚'),
    ('碩', '硕'),
    ('確', '确'),
    ('碼', '码'),
    ('磚', '砖'),
    ('礎', '础'),
    ('礦', '矿'),
    ('礫', '砾'),
    ('礬', '矾'),
    ('祕', '秘'),
    ('祿', '禄'),
    ('禍', '祸'),
    ('禦', '御'),
    ('禮', '礼'),
    ('禿', '秃'),
    ('稅', '税'),
    ('種', '种'),
    ('稱', '称'),
    ('穀', '谷'),
    ('積', '积'),
    ('穎', '颖'),
    ('穢', '秽'),
    ('穩', '稳'),
    ('窩', '窝'),
    ('窪', '洼'),
    ('窮', '穷'),
    ('窯', '窑'),
    ('窺', '窥'),
    ('竄', '窜'),
    ('竅', '窍'),
    ('竈', '灶'),
    ('竊', '窃'),
    ('竪', '竖'),
    ('競', '竞'),
    ('筆', '笔'),
    ('筍', '笋'),
    ('節', '节'),
    ('範', '范'),
    ('築', '筑'),
    ('篩', '筛'),
    ('簍', '篓'),
    ('簡', '简'),
    ('簽', '签'),
    ('簾', '帘'),
    ('籃', '篮'),
    ('籌', '筹'),
    ('籠', '笼'),
    ('籬', '篱'),
    ('籮', '箩'),
    ('粧', '妆'),
    ('粵', '粤'),
    ('糞', '粪'),
    ('糧', '粮'),
    ('糰', '团'),
    ('糾', '纠'),
    ('紀', '纪'),
    ('約', '约'),
    ('紅', '红'),
    ('紉', '纫'),
    ('紋', '纹'),
    ('納', '纳'),
    ('紐', '纽'),
    ('純', '纯'),
    ('紗', '纱'),
    ('紙', '纸'),
    ('級', '级'),
    ('紛', '纷'),
    ('紡', '纺'),
    ('紮', '扎'),
    ('細', '细'),
    ('紳', '绅'),
    ('紹', '绍'),
    ('終', '终'),
    ('組', '组'),
    ('結', '结'),
    ('絕', '绝'),
    ('絞', '绞'),
    ('絡', '络'),
    ('絢', '绚'),
    ('給', '给'),
    ('絨', '绒'),
    ('統', '统'),
    ('絲', '丝'),
    ('絹', '绢'),
    ('綏', '绥'),
    ('經', '经'),
    ('綜', '综'),
    ('綠', '绿'),
    ('綢', '绸'),
    ('綫', '线'),
    ('維', '维'),
    ('綱', '纲'),
    ('網', '网'),
    ('綴', '缀'),
    ('綸', '纶'),
    ('綻', '绽'),
    ('綿', '绵'),
    ('緊', '紧'),
    ('緒', '绪'),
    ('線', '线'),
    ('緣', '缘'),
    ('編', '编'),
    ('緩', '缓'),
    ('緬', '缅'),
    ('緯', '纬'),
    ('練', '练'),
    ('縣', '县'),
    ('縧', '绦'),
    ('縫', '缝'),
    ('縮', '缩'),
    ('縱', '纵'),
    ('縷', '缕'),
    ('總', '总'),
    ('織', '织'),
    ('繕', '缮'),
    ('繞', '绕'),
    ('繡', '绣'),
    ('繩', '绳'),
    ('繪', '绘'),
    ('繳', '缴'),
    ('繹', '绎'),
    ('繼', '继'),
    ('續', '续'),
    ('纓', '缨'),
    ('纖', '纤'),
    ('纜', '缆'),
    ('罰', '罚'),
    ('罵', '骂'),
    ('罷', '罢'),
    ('羅', '罗'),
    ('羨', '羡'),
    ('義', '义'),
    ('習', '习'),
    ('翹', '翘'),
    ('聖', '圣'),
    ('聞', '闻'),
    ('聯', '联'),
    ('聰', '聪'),
    ('聲', '声'),
    ('聳', '耸'),
    ('聶', '聂'),
    ('職', '职'),
    ('聽', '听'),
    ('聾', '聋'),
    ('肅', '肃'),
    ('脅', '胁'),
    ('脈', '脉'),
    ('脣', '唇'),
    ('脫', '脱'),
    ('脹', '胀'),
    ('腎', '肾'),
    ('腦', '脑'),
    ('腫', '肿'),
    ('腳', '脚'),
    ('膚', '肤'),
    ('膠', '胶'),
    ('膩', '腻'),
    ('膽', '胆'),
    ('膿', '脓'),
    ('臉', '脸'),
    ('臍', '脐'),
    ('臘', '腊'),
    ('臥', '卧'),
    ('臨', '临'),
    ('臺', '台'),
    ('與', '与'),
    ('興', '兴'),
    ('舉', '举'),
    ('舊', '旧'),
    ('舖', '铺'),
    ('艙', '舱'),
    ('艦', '舰'),
    ('艱', '艰'),
    ('艷', '艳'),
    ('荊', '荆'),
    ('莊', '庄'),
    ('莖', '茎'),
    ('莢', '荚'),
    ('華', '华'),
    ('菴', '庵'),
    ('萊', '莱'),
    ('萬', '万'),
    ('葉', '叶'),
    ('葦', '苇'),
    ('葷', '荤'),
    ('蒐', '搜'),
    ('蒼', '苍'),
    ('蓋', '盖'),
    ('蓮', '莲'),
    ('蔣', '蒋'),
    ('蔭', '荫'),
    ('蕩', '荡'),
    ('蕪', '芜'),
    ('蕭', '萧'),
    ('薊', '蓟'),
    ('薔', '蔷'),
    ('薦', '荐'),
    ('薩', '萨'),
    ('藍', '蓝'),
    ('藝', '艺'),
    ('藥', '药'),
    ('藴', '蕴'),
    ('蘆', '芦'),
    ('蘇', '苏'),
    ('蘊', '蕴'),
    ('蘋', '苹'),
    ('蘭', '兰'),
    ('蘿', '萝'),
    ('處', '处'),
    ('虛', '虚'),
    ('虜', '虏'),
    ('號', '号'),
    ('虧', '亏'),
    ('蛻', '蜕'),
    ('蝕', '蚀'),
    ('蝦', '虾'),
    ('蝸', '蜗'),
    ('螞', '蚂'),
    ('螢', '萤'),
    ('蟄', '蛰'),
    ('蟲', '虫'),
    ('蟻', '蚁'),
    ('蠅', '蝇'),
    ('蠍', '蝎'),
    ('蠟', '蜡'),
    ('蠱', '蛊'),
    ('蠶', '蚕'),
    ('蠻', '蛮'),
    ('衆', '众'),
    ('術', '术'),
    ('衛', '卫'),
    ('衝', '冲'),
    ('衞', '卫'),
    ('補', '补'),
    ('裝', '装'),
    ('裡', '里'),
    ('製', '制'),
    ('複', '复'),
    ('褲', '裤'),
    ('襪', '袜'),
    ('襯', '衬'),
    ('襲', '袭'),
    ('見', '见'),
    ('規', '规'),
    ('覓', '觅'),
    ('視', '视'),
    ('親', '亲'),
    ('覺', '觉'),
    ('覽', '览'),
    ('觀', '观'),
    ('觸', '触'),
    ('訂', '订'),
    ('訃', '讣'),
    ('計', '计'),
    ('訊', '讯'),
    ('訓', '训'),
    ('訖', '讫'),
    ('託', '托'),
    ('記', '记'),
    ('訝', '讶'),
    ('訟', '讼'),
    ('訣', '诀'),
    ('訪', '访'),
    ('設', '设'),
    ('許', '许'),
    ('訴', '诉'),
    ('診', '诊'),
    ('註', '注'),
    ('詐', '诈'),
    ('評', '评'),
    ('詛', '诅'),
    ('詞', '词'),
    ('詠', '咏'),
    ('詢', '询'),
    ('詣', '诣'),
    ('試', '试'),
    ('詩', '诗'),
    ('話', '话'),
    ('該', '该'),
    ('詳', '详'),
    ('誅', '诛'),
    ('誇', '夸'),
    ('認', '认'),
    ('誘', '诱'),
    ('語', '语'),
    ('誠', '诚'),
    ('誣', '诬'),
    ('誤', '误'),
    ('誦', '诵'),
    ('說', '说'),
    ('誰', '谁'),
    ('課', '课'),
    ('誼', '谊'),
    ('調', '调'),
    ('諄', '谆'),
    ('談', '谈'),
    ('請', '请'),
    ('諒', '谅'),
    ('論', '论'),
    ('諧', '谐'),
    ('諮', '咨'),
    ('諷', '讽'),
    ('諸', '诸'),
    ('諺', '谚'),
    ('諾', '诺'),
    ('謀', '谋'),
    ('謂', '谓'),
    ('謄', '誊'),
    ('謅', '诌'),
    ('謊', '谎'),
    ('謎', '谜'),
    ('謙', '谦'),
    ('講', '讲'),
    ('謝', '谢'),
    ('謠', '谣'),
    ('謬', '谬'),
    ('謹', '谨'),
    ('謾', '谩'),
    ('證', '证'),
    ('識', '识'),
    ('譚', '谭'),
    ('譜', '谱'),
    ('譯', '译'),
    ('議', '议'),
    ('譴', '谴'),
    ('護', '护'),
    ('譽', '誉'),
    ('讀', '读'),
    ('變', '变'),
    ('讓', '让'),
    ('讕', '谰'),
    ('豈', '岂'),
    ('豎', '竖'),
    ('豐', '丰'),
    ('豬', '猪'),
    ('貓', '猫'),
    ('貝', '贝'),
    ('貞', '贞'),
    ('負', '负'),
    ('財', '财'),
    ('貢', '贡'),
    ('貧', '贫'),
    ('貨', '货'),
    ('販', '贩'),
    ('貪', '贪'),
    ('貫', '贯'),
    ('責', '责'),
    ('貯', '贮'),
    ('貴', '贵'),
    ('貶', '贬'),
    ('買', '买'),
    ('貸', '贷'),
    ('費', '费'),
    ('貼', '贴'),
    ('貿', '贸'),
    ('賀', '贺'),
    ('賂', '赂'),
    ('賃', '赁'),
    ('資', '资'),
    ('賈', '贾'),
    ('賊', '贼'),
    ('賒', '赊'),
    ('賓', '宾'),
    ('賞', '赏'),
    ('賠', '赔'),
    ('賢', '贤'),
    ('賣', '卖'),
    ('賤', '贱'),
    ('賦', '赋'),
    ('質', '质'),
    ('賬', '账'),
    ('賴', '赖'),
    ('購', '购'),
    ('賽', '赛'),
    ('贅', '赘'),
    ('贈', '赠'),
    ('贊', '赞'),
    ('贍', '赡'),
    ('贏', '赢'),
    ('贓', '赃'),
    ('贖', '赎'),
    ('贛', '赣'),
    ('趕', '赶'),
    ('趙', '赵'),
    ('趨', '趋'),
    ('踐', '践'),
    ('踴', '踊'),
    ('蹟', '迹'),
    ('蹤', '踪'),
    ('躍', '跃'),
    ('軀', '躯'),
    ('車', '车'),
    ('軋', '轧'),
    ('軌', '轨'),
    ('軍', '军'),
    ('軒', '轩'),
    ('軟', '软'),
    ('軸', '轴'),
    ('較', '较'),
    ('載', '载'),
    ('輔', '辅'),
    ('輕', '轻'),
    ('輛', '辆'),
    ('輝', '辉'),
    ('輥', '辊'),
    ('輪', '轮'),
    ('輯', '辑'),
    ('輸', '输'),
    ('輾', '辗'),
    ('輿', '舆'),
    ('轄', '辖'),
    ('轅', '辕'),
    ('轉', '转'),
    ('轍', '辙'),
    ('轎', '轿'),
    ('轟', '轰'),
    ('辦', '办'),
    ('辭', '辞'),
    ('農', '农'),
    ('迴', '回'),
    ('這', '这'),
    ('連', '连'),
    ('進', '进'),
    ('運', '运'),
    ('過', '过'),
    ('達', '达'),
    ('違', '违'),
    ('遙', '遥'),
    ('遜', '逊'),
    ('遞', '递'),
    ('遠', '远'),
    ('適', '适'),
    ('遷', '迁'),
    ('選', '选'),
    ('遺', '遗'),
    ('遼', '辽'),
    ('邁', '迈'),
    ('還', '还'),
    ('邊', '边'),
    ('邏', '逻'),
    ('郵', '邮'),
    ('鄉', '乡'),
    ('鄒', '邹'),
    ('鄖', '郧'),
    ('鄧', '邓'),
    ('鄭', '郑'),
    ('鄰', '邻'),
    ('鄲', '郸'),
    ('醜', '丑'),
    ('醞', '酝'),
    ('醫', '医'),
    ('醬', '酱'),
    ('釀', '酿'),
    ('釁', '衅'),
    ('釋', '释'),
    ('針', '针'),
    ('釣', '钓'),
    ('釩', '钒'),
    ('鈉', '钠'),
    ('鈎', '钩'),
    ('鈔', '钞'),
    ('鈕', '钮'),
    ('鈞', '钧'),
    ('鈣', '钙'),
    ('鈦', '钛'),
    ('鈴', '铃'),
    ('鈷', '钴'),
    ('鈾', '铀'),
    ('鉀', '钾'),
    ('鉅', '巨'),
    ('鉗', '钳'),
    ('鉚', '铆'),
    ('鉛', '铅'),
    ('鉸', '铰'),
    ('鉻', '铬'),
    ('銀', '银'),
    ('銅', '铜'),
    ('銑', '铣'),
    ('銘', '铭'),
    ('銜', '衔'),
    ('銥', '铱'),
    ('銲', '焊'),
    ('銳', '锐'),
    ('銷', '销'),
    ('銻', '锑'),
    ('鋁', '铝'),
    ('鋅', '锌'),
    ('鋒', '锋'),
    ('鋪', '铺'),
    ('鋭', '锐'),
    ('鋸', '锯'),
    ('鋼', '钢'),
    ('錄', '录'),
    ('錘', '锤'),
    ('錠', '锭'),
    ('錢', '钱'),
    ('錦', '锦'),
    ('錨', '锚'),
    ('錫', '锡'),
    ('錯', '错'),
    ('錳', '锰'),
    ('錶', '表'),
    ('鍁', '锨'),
    ('鍋', '锅'),
    ('鍍', '镀'),
    ('鍘', '铡'),
    ('鍛', '锻'),
    ('鍬', '锹'),
    ('鍵', '键'),
    ('鍺', '锗'),
    ('鍾', '钟'),
    ('鎂', '镁'),
    ('鎔', '熔'),
    ('鎖', '锁'),
    ('鎢', '钨'),
    ('鎬', '镐'),
    ('鎮', '镇'),
    ('鎳', '镍'),
    ('鏈', '链'),
    ('鏟', '铲'),
    ('鏡', '镜'),
    ('鏽', '锈'),
    ('鐐', '镣'),
    ('鐘', '钟'),
    ('鐮', '镰'),
    ('鐳', '镭'),
    ('鐵', '铁'),
    ('鑄', '铸'),
    ('鑑', '鉴'),
    ('鑒', '鉴'),
    ('鑰', '钥'),
    ('鑲', '镶'),
    ('鑷', '镊'),
    ('鑼', '锣'),
    ('鑽', '钻'),
    ('鑿', '凿'),
    ('長', '长'),
    ('門', '门'),
    ('閃', '闪'),
    ('閉', '闭'),
    ('開', '开'),
    ('閏', '闰'),
    ('閒', '闲'),
    ('間', '间'),
    ('閘', '闸'),
    ('閡', '阂'),
    ('閣', '阁'),
    ('閥', '阀'),
    ('閨', '闺'),
    ('閩', '闽'),
    ('閱', '阅'),
    ('閹', '阉'),
    ('閻', '阎'),
    ('闆', '板'),
    ('闊', '阔'),
    ('闌', '阑'),
    ('關', '关'),
    ('陝', '陕'),
    ('陣', '阵'),
    ('陰', '阴'),
    ('陳', '陈'),
    ('陸', '陆'),
    ('陽', '阳'),
    ('隊', '队'),
    ('階', '阶'),
    ('隕', '陨'),
    ('際', '际'),
    ('隨', '随'),
    ('險', '险'),
    ('隱', '隐'),
    ('隴', '陇'),
    ('隸', '隶'),
    ('隻', '只'),
    ('雖', '虽'),
    ('雙', '双'),
    ('雜', '杂'),
    ('雞', '鸡'),
    ('離', '离'),
    ('難', '难'),
    ('雲', '云'),
    ('電', '电'),
    ('霧', '雾'),
    ('靈', '灵'),
    ('靜', '静'),
    ('鞏', '巩'),
    ('韋', '韦'),
    ('韌', '韧'),
    ('韓', '韩'),
    ('韻', '韵'),
    ('響', '响'),
    ('頁', '页'),
    ('頂', '顶'),
    ('項', '项'),
    ('順', '顺'),
    ('須', '须'),
    ('頌', '颂'),
    ('預', '预'),
    ('頑', '顽'),
    ('頓', '顿'),
    ('頗', '颇'),
    ('領', '领'),
    ('頤', '颐'),
    ('頭', '头'),
    ('頰', '颊'),
    ('頸', '颈'),
    ('頹', '颓'),
    ('頻', '频'),
    ('顆', '颗'),
    ('題', '题'),
    ('額', '额'),
    ('顏', '颜'),
    ('願', '愿'),
    ('類', '类'),
    ('顧', '顾'),
    ('顯', '显'),
    ('顱', '颅'),
    ('顴', '颧'),
    ('風', '风'),
    ('颱', '台'),
    ('颳', '刮'),
    ('飄', '飘'),
    ('飛', '飞'),
    ('飯', '饭'),
    ('飲', '饮'),
    ('飼', '饲'),
    ('飾', '饰'),
    ('餃', '饺'),
    ('餅', '饼'),
    ('養', '养'),
    ('餌', '饵'),
    ('餒', '馁'),
    ('餘', '余'),
    ('餞', '饯'),
    ('餡', '馅'),
    ('館', '馆'),
    ('餾', '馏'),
    ('饅', '馒'),
    ('饋', '馈'),
    ('饑', '饥'),
    ('饒', '饶'),
    ('馬', '马'),
    ('馭', '驭'),
    ('馮', '冯'),
    ('馱', '驮'),
    ('馳', '驰'),
    ('馴', '驯'),
    ('駐', '驻'),
    ('駒', '驹'),
    ('駕', '驾'),
    ('駛', '驶'),
    ('駝', '驼'),
    ('駭', '骇'),
    ('駱', '骆'),
    ('駿', '骏'),
    ('騎', '骑'),
    ('騙', '骗'),
    ('騰', '腾'),
    ('騷', '骚'),
    ('騾', '骡'),
    ('驅', '驱'),
    ('驕', '骄'),
    ('驗', '验'),
    ('驚', '惊'),
    ('驟', '骤'),
    ('驢', '驴'),
    ('髒', '脏'),
    ('體', '体'),
    ('髮', '发'),
    ('鬥', '斗'),
    ('鬧', '闹'),
    ('魚', '鱼'),
    ('魯', '鲁'),
    ('鮮', '鲜'),
    ('鯉', '鲤'),
    ('鯨', '鲸'),
    ('鰓', '鳃'),
    ('鱗', '鳞'),
    ('鳥', '鸟'),
    ('鳳', '凤'),
    ('鳴', '鸣'),
    ('鴉', '鸦'),
    ('鴕', '鸵'),
    ('鴛', '鸳'),
    ('鴦', '鸯'),
    ('鴨', '鸭'),
    ('鴻', '鸿'),
    ('鴿', '鸽'),
    ('鵑', '鹃'),
    ('鵬', '鹏'),
    ('鵲', '鹊'),
    ('鶴', '鹤'),
    ('鷗', '鸥'),
    ('鷹', '鹰'),
    ('鹵', '卤'),
    ('鹹', '咸'),
    ('鹽', '盐'),
    ('麗', '丽'),
    ('麥', '麦'),
    ('麵', '面'),
    ('麼', '么'),
    ('黃', '黄'),
    ('點', '点'),
    ('黨', '党'),
    ('齊', '齐'),
    ('齋', '斋'),
    ('齒', '齿'),
    ('齡', '龄'),
    ('齲', '龋'),
    ('龍', '龙'),
    ('龐', '庞'),
    ('龜', '龟'),
];

/// Region names (34 provincial-level units in full and short form, 333 prefecture-level
/// units, 21 directly administered county-level cities), sorted by UTF-8 bytes (744 strings).
static REGIONS: [&str; 744] = [
    "七台河",
    "七台河市",
    "万宁市",
    "三亚",
    "三亚市",
    "三明",
    "三明市",
    "三沙",
    "三沙市",
    "三门峡",
    "三门峡市",
    "上海",
    "上海市",
    "上饶",
    "上饶市",
    "东方市",
    "东莞",
    "东莞市",
    "东营",
    "东营市",
    "中卫",
    "中卫市",
    "中山",
    "中山市",
    "临夏回族自治州",
    "临夏州",
    "临汾",
    "临汾市",
    "临沂",
    "临沂市",
    "临沧",
    "临沧市",
    "丹东",
    "丹东市",
    "丽水",
    "丽水市",
    "丽江",
    "丽江市",
    "乌兰察布",
    "乌兰察布市",
    "乌海",
    "乌海市",
    "乌鲁木齐",
    "乌鲁木齐市",
    "乐山",
    "乐山市",
    "九江",
    "九江市",
    "云南",
    "云南省",
    "云浮",
    "云浮市",
    "五家渠市",
    "五指山市",
    "亳州",
    "亳州市",
    "仙桃市",
    "伊春",
    "伊春市",
    "伊犁哈萨克自治州",
    "伊犁州",
    "佛山",
    "佛山市",
    "佳木斯",
    "佳木斯市",
    "保定",
    "保定市",
    "保山",
    "保山市",
    "信阳",
    "信阳市",
    "儋州",
    "儋州市",
    "克孜勒苏州",
    "克孜勒苏柯尔克孜自治州",
    "克拉玛依",
    "克拉玛依市",
    "六安",
    "六安市",
    "六盘水",
    "六盘水市",
    "兰州",
    "兰州市",
    "兴安盟",
    "内江",
    "内江市",
    "内蒙古",
    "内蒙古自治区",
    "凉山州",
    "凉山彝族自治州",
    "包头",
    "包头市",
    "北京",
    "北京市",
    "北屯市",
    "北海",
    "北海市",
    "十堰",
    "十堰市",
    "南京",
    "南京市",
    "南充",
    "南充市",
    "南宁",
    "南宁市",
    "南平",
    "南平市",
    "南昌",
    "南昌市",
    "南通",
    "南通市",
    "南阳",
    "南阳市",
    "博尔塔拉州",
    "博尔塔拉蒙古自治州",
    "厦门",
    "厦门市",
    "双河市",
    "双鸭山",
    "双鸭山市",
    "可克达拉市",
    "台州",
    "台州市",
    "台湾",
    "台湾省",
    "合肥",
    "合肥市",
    "吉安",
    "吉安市",
    "吉林",
    "吉林市",
    "吉林省",
    "吐鲁番",
    "吐鲁番市",
    "吕梁",
    "吕梁市",
    "吴忠",
    "吴忠市",
    "周口",
    "周口市",
    "呼伦贝尔",
    "呼伦贝尔市",
    "呼和浩特",
    "呼和浩特市",
    "和田地区",
    "咸宁",
    "咸宁市",
    "咸阳",
    "咸阳市",
    "哈密",
    "哈密市",
    "哈尔滨",
    "哈尔滨市",
    "唐山",
    "唐山市",
    "商丘",
    "商丘市",
    "商洛",
    "商洛市",
    "喀什地区",
    "嘉兴",
    "嘉兴市",
    "嘉峪关",
    "嘉峪关市",
    "四川",
    "四川省",
    "四平",
    "四平市",
    "固原",
    "固原市",
    "图木舒克市",
    "塔城地区",
    "大兴安岭地区",
    "大同",
    "大同市",
    "大庆",
    "大庆市",
    "大理州",
    "大理白族自治州",
    "大连",
    "大连市",
    "天水",
    "天水市",
    "天津",
    "天津市",
    "天门市",
    "太原",
    "太原市",
    "威海",
    "威海市",
    "娄底",
    "娄底市",
    "孝感",
    "孝感市",
    "宁夏",
    "宁夏回族自治区",
    "宁德",
    "宁德市",
    "宁波",
    "宁波市",
    "安庆",
    "安庆市",
    "安康",
    "安康市",
    "安徽",
    "安徽省",
    "安阳",
    "安阳市",
    "安顺",
    "安顺市",
    "定西",
    "定西市",
    "宜宾",
    "宜宾市",
    "宜昌",
    "宜昌市",
    "宜春",
    "宜春市",
    "宝鸡",
    "宝鸡市",
    "宣城",
    "宣城市",
    "宿州",
    "宿州市",
    "宿迁",
    "宿迁市",
    "山东",
    "山东省",
    "山南",
    "山南市",
    "山西",
    "山西省",
    "岳阳",
    "岳阳市",
    "崇左",
    "崇左市",
    "巴中",
    "巴中市",
    "巴彦淖尔",
    "巴彦淖尔市",
    "巴音郭楞州",
    "巴音郭楞蒙古自治州",
    "常州",
    "常州市",
    "常德",
    "常德市",
    "平凉",
    "平凉市",
    "平顶山",
    "平顶山市",
    "广东",
    "广东省",
    "广元",
    "广元市",
    "广安",
    "广安市",
    "广州",
    "广州市",
    "广西",
    "广西壮族自治区",
    "庆阳",
    "庆阳市",
    "廊坊",
    "廊坊市",
    "延安",
    "延安市",
    "延边州",
    "延边朝鲜族自治州",
    "开封",
    "开封市",
    "张家口",
    "张家口市",
    "张家界",
    "张家界市",
    "张掖",
    "张掖市",
    "徐州",
    "徐州市",
    "德宏傣族景颇族自治州",
    "德宏州",
    "德州",
    "德州市",
    "德阳",
    "德阳市",
    "忻州",
    "忻州市",
    "怀化",
    "怀化市",
    "怒江傈僳族自治州",
    "怒江州",
    "恩施土家族苗族自治州",
    "恩施州",
    "惠州",
    "惠州市",
    "成都",
    "成都市",
    "扬州",
    "扬州市",
    "承德",
    "承德市",
    "抚州",
    "抚州市",
    "抚顺",
    "抚顺市",
    "拉萨",
    "拉萨市",
    "揭阳",
    "揭阳市",
    "攀枝花",
    "攀枝花市",
    "文山壮族苗族自治州",
    "文山州",
    "文昌市",
    "新乡",
    "新乡市",
    "新余",
    "新余市",
    "新星市",
    "新疆",
    "新疆维吾尔自治区",
    "无锡",
    "无锡市",
    "日喀则",
    "日喀则市",
    "日照",
    "日照市",
    "昆明",
    "昆明市",
    "昆玉市",
    "昌吉回族自治州",
    "昌吉州",
    "昌都",
    "昌都市",
    "昭通",
    "昭通市",
    "晋中",
    "晋中市",
    "晋城",
    "晋城市",
    "普洱",
    "普洱市",
    "景德镇",
    "景德镇市",
    "曲靖",
    "曲靖市",
    "朔州",
    "朔州市",
    "朝阳",
    "朝阳市",
    "本溪",
    "本溪市",
    "来宾",
    "来宾市",
    "杭州",
    "杭州市",
    "松原",
    "松原市",
    "林芝",
    "林芝市",
    "果洛州",
    "果洛藏族自治州",
    "枣庄",
    "枣庄市",
    "柳州",
    "柳州市",
    "株洲",
    "株洲市",
    "桂林",
    "桂林市",
    "梅州",
    "梅州市",
    "梧州",
    "梧州市",
    "楚雄州",
    "楚雄彝族自治州",
    "榆林",
    "榆林市",
    "武威",
    "武威市",
    "武汉",
    "武汉市",
    "毕节",
    "毕节市",
    "永州",
    "永州市",
    "汉中",
    "汉中市",
    "汕头",
    "汕头市",
    "汕尾",
    "汕尾市",
    "江苏",
    "江苏省",
    "江西",
    "江西省",
    "江门",
    "江门市",
    "池州",
    "池州市",
    "沈阳",
    "沈阳市",
    "沧州",
    "沧州市",
    "河北",
    "河北省",
    "河南",
    "河南省",
    "河池",
    "河池市",
    "河源",
    "河源市",
    "泉州",
    "泉州市",
    "泰安",
    "泰安市",
    "泰州",
    "泰州市",
    "泸州",
    "泸州市",
    "洛阳",
    "洛阳市",
    "济南",
    "济南市",
    "济宁",
    "济宁市",
    "济源市",
    "浙江",
    "浙江省",
    "海东",
    "海东市",
    "海北州",
    "海北藏族自治州",
    "海南",
    "海南州",
    "海南省",
    "海南藏族自治州",
    "海口",
    "海口市",
    "海西州",
    "海西蒙古族藏族自治州",
    "淄博",
    "淄博市",
    "淮北",
    "淮北市",
    "淮南",
    "淮南市",
    "淮安",
    "淮安市",
    "深圳",
    "深圳市",
    "清远",
    "清远市",
    "温州",
    "温州市",
    "渭南",
    "渭南市",
    "湖北",
    "湖北省",
    "湖南",
    "湖南省",
    "湖州",
    "湖州市",
    "湘潭",
    "湘潭市",
    "湘西土家族苗族自治州",
    "湘西州",
    "湛江",
    "湛江市",
    "滁州",
    "滁州市",
    "滨州",
    "滨州市",
    "漯河",
    "漯河市",
    "漳州",
    "漳州市",
    "潍坊",
    "潍坊市",
    "潜江市",
    "潮州",
    "潮州市",
    "澳门",
    "澳门特别行政区",
    "濮阳",
    "濮阳市",
    "烟台",
    "烟台市",
    "焦作",
    "焦作市",
    "牡丹江",
    "牡丹江市",
    "玉林",
    "玉林市",
    "玉树州",
    "玉树藏族自治州",
    "玉溪",
    "玉溪市",
    "珠海",
    "珠海市",
    "琼海市",
    "甘南州",
    "甘南藏族自治州",
    "甘孜州",
    "甘孜藏族自治州",
    "甘肃",
    "甘肃省",
    "白城",
    "白城市",
    "白山",
    "白山市",
    "白银",
    "白银市",
    "百色",
    "百色市",
    "益阳",
    "益阳市",
    "盐城",
    "盐城市",
    "盘锦",
    "盘锦市",
    "眉山",
    "眉山市",
    "石嘴山",
    "石嘴山市",
    "石家庄",
    "石家庄市",
    "石河子市",
    "神农架林区",
    "福州",
    "福州市",
    "福建",
    "福建省",
    "秦皇岛",
    "秦皇岛市",
    "红河哈尼族彝族自治州",
    "红河州",
    "绍兴",
    "绍兴市",
    "绥化",
    "绥化市",
    "绵阳",
    "绵阳市",
    "聊城",
    "聊城市",
    "肇庆",
    "肇庆市",
    "胡杨河市",
    "自贡",
    "自贡市",
    "舟山",
    "舟山市",
    "芜湖",
    "芜湖市",
    "苏州",
    "苏州市",
    "茂名",
    "茂名市",
    "荆州",
    "荆州市",
    "荆门",
    "荆门市",
    "莆田",
    "莆田市",
    "菏泽",
    "菏泽市",
    "萍乡",
    "萍乡市",
    "营口",
    "营口市",
    "葫芦岛",
    "葫芦岛市",
    "蚌埠",
    "蚌埠市",
    "衡水",
    "衡水市",
    "衡阳",
    "衡阳市",
    "衢州",
    "衢州市",
    "襄阳",
    "襄阳市",
    "西双版纳傣族自治州",
    "西双版纳州",
    "西宁",
    "西宁市",
    "西安",
    "西安市",
    "西藏",
    "西藏自治区",
    "许昌",
    "许昌市",
    "贵州",
    "贵州省",
    "贵港",
    "贵港市",
    "贵阳",
    "贵阳市",
    "贺州",
    "贺州市",
    "资阳",
    "资阳市",
    "赣州",
    "赣州市",
    "赤峰",
    "赤峰市",
    "辽宁",
    "辽宁省",
    "辽源",
    "辽源市",
    "辽阳",
    "辽阳市",
    "达州",
    "达州市",
    "运城",
    "运城市",
    "连云港",
    "连云港市",
    "迪庆州",
    "迪庆藏族自治州",
    "通化",
    "通化市",
    "通辽",
    "通辽市",
    "遂宁",
    "遂宁市",
    "遵义",
    "遵义市",
    "邢台",
    "邢台市",
    "那曲",
    "那曲市",
    "邯郸",
    "邯郸市",
    "邵阳",
    "邵阳市",
    "郑州",
    "郑州市",
    "郴州",
    "郴州市",
    "鄂尔多斯",
    "鄂尔多斯市",
    "鄂州",
    "鄂州市",
    "酒泉",
    "酒泉市",
    "重庆",
    "重庆市",
    "金华",
    "金华市",
    "金昌",
    "金昌市",
    "钦州",
    "钦州市",
    "铁岭",
    "铁岭市",
    "铁门关市",
    "铜仁",
    "铜仁市",
    "铜川",
    "铜川市",
    "铜陵",
    "铜陵市",
    "银川",
    "银川市",
    "锡林郭勒盟",
    "锦州",
    "锦州市",
    "镇江",
    "镇江市",
    "长春",
    "长春市",
    "长沙",
    "长沙市",
    "长治",
    "长治市",
    "阜新",
    "阜新市",
    "阜阳",
    "阜阳市",
    "防城港",
    "防城港市",
    "阳江",
    "阳江市",
    "阳泉",
    "阳泉市",
    "阿克苏地区",
    "阿勒泰地区",
    "阿坝州",
    "阿坝藏族羌族自治州",
    "阿拉善盟",
    "阿拉尔市",
    "阿里地区",
    "陇南",
    "陇南市",
    "陕西",
    "陕西省",
    "随州",
    "随州市",
    "雅安",
    "雅安市",
    "青岛",
    "青岛市",
    "青海",
    "青海省",
    "鞍山",
    "鞍山市",
    "韶关",
    "韶关市",
    "香港",
    "香港特别行政区",
    "马鞍山",
    "马鞍山市",
    "驻马店",
    "驻马店市",
    "鸡西",
    "鸡西市",
    "鹤壁",
    "鹤壁市",
    "鹤岗",
    "鹤岗市",
    "鹰潭",
    "鹰潭市",
    "黄冈",
    "黄冈市",
    "黄南州",
    "黄南藏族自治州",
    "黄山",
    "黄山市",
    "黄石",
    "黄石市",
    "黑河",
    "黑河市",
    "黑龙江",
    "黑龙江省",
    "黔东南州",
    "黔东南苗族侗族自治州",
    "黔南州",
    "黔南布依族苗族自治州",
    "黔西南州",
    "黔西南布依族苗族自治州",
    "齐齐哈尔",
    "齐齐哈尔市",
    "龙岩",
    "龙岩市",
];

/// First character → range in [`REGIONS`], sorted by character (250 entries).
static REGION_INDEX: [(char, u16, u16); 250] = [
    ('七', 0, 2),
    ('万', 2, 3),
    ('三', 3, 11),
    ('上', 11, 15),
    ('东', 15, 20),
    ('中', 20, 24),
    ('临', 24, 32),
    ('丹', 32, 34),
    ('丽', 34, 38),
    ('乌', 38, 44),
    ('乐', 44, 46),
    ('九', 46, 48),
    ('云', 48, 52),
    ('五', 52, 54),
    ('亳', 54, 56),
    ('仙', 56, 57),
    ('伊', 57, 61),
    ('佛', 61, 63),
    ('佳', 63, 65),
    ('保', 65, 69),
    ('信', 69, 71),
    ('儋', 71, 73),
    ('克', 73, 77),
    ('六', 77, 81),
    ('兰', 81, 83),
    ('兴', 83, 84),
    ('内', 84, 88),
    ('凉', 88, 90),
    ('包', 90, 92),
    ('北', 92, 97),
    ('十', 97, 99),
    ('南', 99, 113),
    ('博', 113, 115),
    ('厦', 115, 117),
    ('双', 117, 120),
    ('可', 120, 121),
    ('台', 121, 125),
    ('合', 125, 127),
    ('吉', 127, 132),
    ('吐', 132, 134),
    ('吕', 134, 136),
    ('吴', 136, 138),
    ('周', 138, 140),
    ('呼', 140, 144),
    ('和', 144, 145),
    ('咸', 145, 149),
    ('哈', 149, 153),
    ('唐', 153, 155),
    ('商', 155, 159),
    ('喀', 159, 160),
    ('嘉', 160, 164),
    ('四', 164, 168),
    ('固', 168, 170),
    ('图', 170, 171),
    ('塔', 171, 172),
    ('大', 172, 181),
    ('天', 181, 186),
    ('太', 186, 188),
    ('威', 188, 190),
    ('娄', 190, 192),
    ('孝', 192, 194),
    ('宁', 194, 200),
    ('安', 200, 210),
    ('定', 210, 212),
    ('宜', 212, 218),
    ('宝', 218, 220),
    ('宣', 220, 222),
    ('宿', 222, 226),
    ('山', 226, 232),
    ('岳', 232, 234),
    ('崇', 234, 236),
    ('巴', 236, 242),
    ('常', 242, 246),
    ('平', 246, 250),
    ('广', 250, 260),
    ('庆', 260, 262),
    ('廊', 262, 264),
    ('延', 264, 268),
    ('开', 268, 270),
    ('张', 270, 276),
    ('徐', 276, 278),
    ('德', 278, 284),
    ('忻', 284, 286),
    ('怀', 286, 288),
    ('怒', 288, 290),
    ('恩', 290, 292),
    ('惠', 292, 294),
    ('成', 294, 296),
    ('扬', 296, 298),
    ('承', 298, 300),
    ('抚', 300, 304),
    ('拉', 304, 306),
    ('揭', 306, 308),
    ('攀', 308, 310),
    ('文', 310, 313),
    ('新', 313, 320),
    ('无', 320, 322),
    ('日', 322, 326),
    ('昆', 326, 329),
    ('昌', 329, 333),
    ('昭', 333, 335),
    ('晋', 335, 339),
    ('普', 339, 341),
    ('景', 341, 343),
    ('曲', 343, 345),
    ('朔', 345, 347),
    ('朝', 347, 349),
    ('本', 349, 351),
    ('来', 351, 353),
    ('杭', 353, 355),
    ('松', 355, 357),
    ('林', 357, 359),
    ('果', 359, 361),
    ('枣', 361, 363),
    ('柳', 363, 365),
    ('株', 365, 367),
    ('桂', 367, 369),
    ('梅', 369, 371),
    ('梧', 371, 373),
    ('楚', 373, 375),
    ('榆', 375, 377),
    ('武', 377, 381),
    ('毕', 381, 383),
    ('永', 383, 385),
    ('汉', 385, 387),
    ('汕', 387, 391),
    ('江', 391, 397),
    ('池', 397, 399),
    ('沈', 399, 401),
    ('沧', 401, 403),
    ('河', 403, 411),
    ('泉', 411, 413),
    ('泰', 413, 417),
    ('泸', 417, 419),
    ('洛', 419, 421),
    ('济', 421, 426),
    ('浙', 426, 428),
    ('海', 428, 440),
    ('淄', 440, 442),
    ('淮', 442, 448),
    ('深', 448, 450),
    ('清', 450, 452),
    ('温', 452, 454),
    ('渭', 454, 456),
    ('湖', 456, 462),
    ('湘', 462, 466),
    ('湛', 466, 468),
    ('滁', 468, 470),
    ('滨', 470, 472),
    ('漯', 472, 474),
    ('漳', 474, 476),
    ('潍', 476, 478),
    ('潜', 478, 479),
    ('潮', 479, 481),
    ('澳', 481, 483),
    ('濮', 483, 485),
    ('烟', 485, 487),
    ('焦', 487, 489),
    ('牡', 489, 491),
    ('玉', 491, 497),
    ('珠', 497, 499),
    ('琼', 499, 500),
    ('甘', 500, 506),
    ('白', 506, 512),
    ('百', 512, 514),
    ('益', 514, 516),
    ('盐', 516, 518),
    ('盘', 518, 520),
    ('眉', 520, 522),
    ('石', 522, 527),
    ('神', 527, 528),
    ('福', 528, 532),
    ('秦', 532, 534),
    ('红', 534, 536),
    ('绍', 536, 538),
    ('绥', 538, 540),
    ('绵', 540, 542),
    ('聊', 542, 544),
    ('肇', 544, 546),
    ('胡', 546, 547),
    ('自', 547, 549),
    ('舟', 549, 551),
    ('芜', 551, 553),
    ('苏', 553, 555),
    ('茂', 555, 557),
    ('荆', 557, 561),
    ('莆', 561, 563),
    ('菏', 563, 565),
    ('萍', 565, 567),
    ('营', 567, 569),
    ('葫', 569, 571),
    ('蚌', 571, 573),
    ('衡', 573, 577),
    ('衢', 577, 579),
    ('襄', 579, 581),
    ('西', 581, 589),
    ('许', 589, 591),
    ('贵', 591, 597),
    ('贺', 597, 599),
    ('资', 599, 601),
    ('赣', 601, 603),
    ('赤', 603, 605),
    ('辽', 605, 611),
    ('达', 611, 613),
    ('运', 613, 615),
    ('连', 615, 617),
    ('迪', 617, 619),
    ('通', 619, 623),
    ('遂', 623, 625),
    ('遵', 625, 627),
    ('邢', 627, 629),
    ('那', 629, 631),
    ('邯', 631, 633),
    ('邵', 633, 635),
    ('郑', 635, 637),
    ('郴', 637, 639),
    ('鄂', 639, 643),
    ('酒', 643, 645),
    ('重', 645, 647),
    ('金', 647, 651),
    ('钦', 651, 653),
    ('铁', 653, 656),
    ('铜', 656, 662),
    ('银', 662, 664),
    ('锡', 664, 665),
    ('锦', 665, 667),
    ('镇', 667, 669),
    ('长', 669, 675),
    ('阜', 675, 679),
    ('防', 679, 681),
    ('阳', 681, 685),
    ('阿', 685, 692),
    ('陇', 692, 694),
    ('陕', 694, 696),
    ('随', 696, 698),
    ('雅', 698, 700),
    ('青', 700, 704),
    ('鞍', 704, 706),
    ('韶', 706, 708),
    ('香', 708, 710),
    ('马', 710, 712),
    ('驻', 712, 714),
    ('鸡', 714, 716),
    ('鹤', 716, 720),
    ('鹰', 720, 722),
    ('黄', 722, 730),
    ('黑', 730, 734),
    ('黔', 734, 740),
    ('齐', 740, 742),
    ('龙', 742, 744),
];

/// Industry words for the `core` tier, sorted by (last character, word) (119 words).
static INDUSTRY_WORDS: [&str; 119] = [
    "产业",
    "农业",
    "实业",
    "工业",
    "物业",
    "置业",
    "地产",
    "房地产",
    "软件",
    "造价",
    "光伏",
    "半导体",
    "环保",
    "通信",
    "装修",
    "家具",
    "水利",
    "印刷",
    "电力",
    "劳务",
    "商务",
    "服务",
    "电子商务",
    "文化",
    "绿化",
    "开发",
    "房地产开发",
    "进出口",
    "广告",
    "食品",
    "销售",
    "仪器",
    "电器",
    "集团",
    "环境",
    "设备",
    "传媒",
    "电子",
    "数字",
    "保安",
    "勘察",
    "发展",
    "金属",
    "化工",
    "酒店",
    "健康",
    "生态",
    "信息",
    "新能源科技",
    "科技",
    "网络科技",
    "数据",
    "市政",
    "新材料",
    "材料",
    "照明",
    "国际贸易",
    "贸易",
    "信息技术",
    "技术",
    "网络技术",
    "计算机",
    "建材",
    "园林",
    "路桥",
    "机械",
    "电气",
    "物流",
    "检测",
    "旅游",
    "人力资源",
    "新能源",
    "能源",
    "生物",
    "企业管理",
    "物业管理",
    "监理",
    "管理",
    "光电",
    "机电",
    "水电",
    "医疗",
    "工程",
    "建筑工程",
    "建设工程",
    "装饰工程",
    "建筑",
    "纺织",
    "测绘",
    "网络",
    "系统",
    "控股",
    "教育",
    "智能",
    "医药",
    "包装",
    "安装",
    "服装",
    "设计",
    "通讯",
    "建设",
    "咨询",
    "商贸",
    "工贸",
    "经贸",
    "投资",
    "汽车",
    "运输",
    "交通",
    "制造",
    "五金",
    "钢铁",
    "供应链",
    "安防",
    "消防",
    "国际",
    "餐饮",
    "装饰",
    "实验",
];

/// Last character → range in [`INDUSTRY_WORDS`], sorted by character (86 entries).
static INDUSTRY_INDEX: [(char, u16, u16); 86] = [
    ('业', 0, 6),
    ('产', 6, 8),
    ('件', 8, 9),
    ('价', 9, 10),
    ('伏', 10, 11),
    ('体', 11, 12),
    ('保', 12, 13),
    ('信', 13, 14),
    ('修', 14, 15),
    ('具', 15, 16),
    ('利', 16, 17),
    ('刷', 17, 18),
    ('力', 18, 19),
    ('务', 19, 23),
    ('化', 23, 25),
    ('发', 25, 27),
    ('口', 27, 28),
    ('告', 28, 29),
    ('品', 29, 30),
    ('售', 30, 31),
    ('器', 31, 33),
    ('团', 33, 34),
    ('境', 34, 35),
    ('备', 35, 36),
    ('媒', 36, 37),
    ('子', 37, 38),
    ('字', 38, 39),
    ('安', 39, 40),
    ('察', 40, 41),
    ('展', 41, 42),
    ('属', 42, 43),
    ('工', 43, 44),
    ('店', 44, 45),
    ('康', 45, 46),
    ('态', 46, 47),
    ('息', 47, 48),
    ('技', 48, 51),
    ('据', 51, 52),
    ('政', 52, 53),
    ('料', 53, 55),
    ('明', 55, 56),
    ('易', 56, 58),
    ('术', 58, 61),
    ('机', 61, 62),
    ('材', 62, 63),
    ('林', 63, 64),
    ('桥', 64, 65),
    ('械', 65, 66),
    ('气', 66, 67),
    ('流', 67, 68),
    ('测', 68, 69),
    ('游', 69, 70),
    ('源', 70, 73),
    ('物', 73, 74),
    ('理', 74, 78),
    ('电', 78, 81),
    ('疗', 81, 82),
    ('程', 82, 86),
    ('筑', 86, 87),
    ('织', 87, 88),
    ('绘', 88, 89),
    ('络', 89, 90),
    ('统', 90, 91),
    ('股', 91, 92),
    ('育', 92, 93),
    ('能', 93, 94),
    ('药', 94, 95),
    ('装', 95, 98),
    ('计', 98, 99),
    ('讯', 99, 100),
    ('设', 100, 101),
    ('询', 101, 102),
    ('贸', 102, 105),
    ('资', 105, 106),
    ('车', 106, 107),
    ('输', 107, 108),
    ('通', 108, 109),
    ('造', 109, 110),
    ('金', 110, 111),
    ('铁', 111, 112),
    ('链', 112, 113),
    ('防', 113, 115),
    ('际', 115, 116),
    ('饮', 116, 117),
    ('饰', 117, 118),
    ('验', 118, 119),
];

#[cfg(test)]
mod tests {
    use super::*;
    use LegalForm::*;

    fn n(s: &str) -> NormalizedName {
        normalize_company(s)
    }

    /// Asserts key, region_prefix and legal_form.
    #[track_caller]
    fn check(
        name: &str,
        key: &str,
        region: Option<&str>,
        form: Option<LegalForm>,
    ) -> NormalizedName {
        let r = n(name);
        assert_eq!(r.key, key, "key of {name}");
        assert_eq!(r.region_prefix.as_deref(), region, "region of {name}");
        assert_eq!(r.legal_form, form, "legal form of {name}");
        r
    }

    // ---------------------------------------------------------------- tables

    #[test]
    fn trad_table_sorted_unique_no_chains() {
        assert!(TRAD_SIMP.len() >= 600, "{}", TRAD_SIMP.len());
        assert!(TRAD_SIMP.windows(2).all(|w| w[0].0 < w[1].0));
        for &(t, s) in TRAD_SIMP.iter() {
            assert_ne!(t, s);
            assert!(
                TRAD_SIMP.binary_search_by(|p| p.0.cmp(&s)).is_err(),
                "chain via {s}"
            );
            assert!(t as u32 >= 0x4E00);
        }
    }

    #[test]
    fn trad_table_sample() {
        let sample = "國際團協會業務貿廣東電氣機設備實發開築與資產銷價運輸環藝飾農醫藥衛網絡術鐵鋼屬華興龍鳳豐達濟證劵險銀號廠場樓灣臺門區縣鎮鄉莊橋陽漢蘇";
        let expect = "国际团协会业务贸广东电气机设备实发开筑与资产销价运输环艺饰农医药卫网络术铁钢属华兴龙凤丰达济证券险银号厂场楼湾台门区县镇乡庄桥阳汉苏";
        let got: String = sample.chars().map(to_simplified).collect();
        assert_eq!(got, expect);
        // Simplified and unrelated characters are unchanged.
        assert_eq!(to_simplified('国'), '国');
        assert_eq!(to_simplified('A'), 'A');
        assert_eq!(to_simplified('乾'), '乾'); // ambiguous (乾坤), deliberately not mapped
    }

    #[test]
    fn region_table_sorted_and_complete() {
        assert!(REGIONS.windows(2).all(|w| w[0] < w[1]));
        let max = REGIONS.iter().map(|r| r.chars().count()).max().unwrap();
        assert_eq!(max, MAX_REGION_CHARS);
        for p in [
            "北京市",
            "北京",
            "天津",
            "上海市",
            "重庆",
            "河北省",
            "山西",
            "辽宁省",
            "吉林",
            "黑龙江省",
            "江苏",
            "浙江省",
            "安徽",
            "福建省",
            "江西",
            "山东省",
            "河南",
            "湖北省",
            "湖南",
            "广东省",
            "海南",
            "四川省",
            "贵州",
            "云南省",
            "陕西",
            "甘肃省",
            "青海",
            "台湾省",
            "内蒙古自治区",
            "内蒙古",
            "广西壮族自治区",
            "广西",
            "西藏自治区",
            "宁夏回族自治区",
            "新疆维吾尔自治区",
            "新疆",
            "香港特别行政区",
            "澳门",
            "广州市",
            "深圳",
            "揭阳市",
            "延边朝鲜族自治州",
            "延边州",
            "大兴安岭地区",
            "锡林郭勒盟",
            "济源市",
        ] {
            assert!(REGIONS.binary_search(&p).is_ok(), "{p}");
        }
        // Never regions: part of registered names, or too ambiguous without suffix.
        for p in ["中国", "中华", "阿里", "兴安", "东方", "东方市揭"] {
            assert!(REGIONS.binary_search(&p).is_err(), "{p}");
        }
    }

    #[test]
    fn legal_forms_longest_first_and_industry_sorted() {
        assert!(
            LEGAL_FORMS
                .windows(2)
                .all(|w| w[0].0.chars().count() >= w[1].0.chars().count())
        );
        let last = |w: &str| w.chars().next_back().unwrap();
        assert!(
            INDUSTRY_WORDS
                .windows(2)
                .all(|w| (last(w[0]), w[0]) < (last(w[1]), w[1]))
        );
        assert!(INDUSTRY_WORDS.iter().all(|w| w.chars().count() >= 2));
    }

    #[test]
    fn indexes_cover_tables() {
        fn check_index(index: &[(char, u16, u16)], table: &[&str], key: impl Fn(&str) -> char) {
            assert!(
                index
                    .windows(2)
                    .all(|w| w[0].0 < w[1].0 && w[0].2 == w[1].1)
            );
            assert_eq!(index[0].1, 0);
            assert_eq!(index[index.len() - 1].2 as usize, table.len());
            for &(c, lo, hi) in index {
                assert!(lo < hi);
                assert!(table[lo as usize..hi as usize].iter().all(|w| key(w) == c));
            }
        }
        check_index(&REGION_INDEX, &REGIONS, |w| w.chars().next().unwrap());
        check_index(&INDUSTRY_INDEX, &INDUSTRY_WORDS, |w| {
            w.chars().next_back().unwrap()
        });
        assert!(REGIONS.iter().all(|w| w.chars().count() >= 2));
    }

    // ------------------------------------------------------- company: basics

    #[test]
    fn traditional_and_simplified_same_key() {
        let a = check(
            "广州市建筑工程有限公司",
            "建筑工程",
            Some("广州市"),
            Some(LimitedLiability),
        );
        let b = check(
            "廣州市建築工程有限公司",
            "建筑工程",
            Some("广州市"),
            Some(LimitedLiability),
        );
        assert_eq!(a.key, b.key);
        assert_eq!(a.notes, vec![note::LEGAL_FORM, note::REGION_PREFIX]);
        assert_eq!(
            b.notes,
            vec![note::TRADITIONAL, note::LEGAL_FORM, note::REGION_PREFIX]
        );
        assert_eq!(similarity(&a, &b), 1.0);
    }

    #[test]
    fn tencent_city_prefix_and_core() {
        let r = check(
            "深圳市腾讯计算机系统有限公司",
            "腾讯计算机系统",
            Some("深圳市"),
            Some(LimitedLiability),
        );
        assert_eq!(r.core, "腾讯");
        assert!(!r.branch);
        assert!(r.notes.contains(&note::INDUSTRY_WORDS));
    }

    #[test]
    fn baidu_bare_municipality() {
        let r = check(
            "北京百度网讯科技有限公司",
            "百度网讯科技",
            Some("北京"),
            Some(LimitedLiability),
        );
        assert_eq!(r.core, "百度网讯");
    }

    #[test]
    fn zhongguo_is_not_a_region_prefix() {
        let r = check(
            "中国建筑第八工程局有限公司",
            "中国建筑第八工程局",
            None,
            Some(LimitedLiability),
        );
        assert_eq!(r.core, "中国建筑第八工程局");
        check(
            "中华联合财产保险股份有限公司",
            "中华联合财产保险",
            None,
            Some(JointStock),
        );
        check(
            "中铁十一局集团有限公司",
            "中铁十一局集团",
            None,
            Some(LimitedLiability),
        );
    }

    #[test]
    fn spdb_joint_stock() {
        check(
            "上海浦东发展银行股份有限公司",
            "浦东发展银行",
            Some("上海"),
            Some(JointStock),
        );
    }

    #[test]
    fn county_trading_unit() {
        check(
            "揭西县某某建材经营部",
            "某某建材",
            Some("揭西县"),
            Some(TradingUnit),
        );
        check(
            "揭阳市揭西县某某建材经营部",
            "某某建材",
            Some("揭阳市揭西县"),
            Some(TradingUnit),
        );
        check(
            "普宁市某某五金商行",
            "普宁市某某五金",
            None,
            Some(TradingUnit),
        ); // county-level city alone: not stripped
        check(
            "揭阳市普宁市某某五金商行",
            "某某五金",
            Some("揭阳市普宁市"),
            Some(TradingUnit),
        );
    }

    #[test]
    fn multi_level_region_prefix() {
        check(
            "广东省广州市天河区某某贸易有限公司",
            "某某贸易",
            Some("广东省广州市天河区"),
            Some(LimitedLiability),
        );
        check(
            "上海市浦东新区某某物业管理有限公司",
            "某某物业管理",
            Some("上海市浦东新区"),
            Some(LimitedLiability),
        );
        check(
            "内蒙古自治区鄂尔多斯市伊金霍洛旗某某煤炭有限责任公司",
            "某某煤炭",
            Some("内蒙古自治区鄂尔多斯市伊金霍洛旗"),
            Some(LimitedLiability),
        );
        check(
            "新疆维吾尔自治区某某建设工程有限责任公司",
            "某某建设工程",
            Some("新疆维吾尔自治区"),
            Some(LimitedLiability),
        );
        check(
            "延边州某某农业开发有限公司",
            "某某农业开发",
            Some("延边州"),
            Some(LimitedLiability),
        );
        check(
            "长白朝鲜族自治县某某林业有限公司",
            "某某林业",
            Some("长白朝鲜族自治县"),
            Some(LimitedLiability),
        );
    }

    #[test]
    fn region_guards() {
        // `XX市场` after a city is not a county-level city.
        check(
            "广州市花卉市场有限公司",
            "花卉市场",
            Some("广州市"),
            Some(LimitedLiability),
        );
        // `XX市政` is municipal engineering, not a county-level city `XX市`.
        check(
            "米脂县宏达市政工程有限公司",
            "宏达市政工程",
            Some("米脂县"),
            Some(LimitedLiability),
        );
        assert_eq!(
            normalize_company("柳林县江云市政工程有限公司").core,
            "江云",
            "the trade name is the core"
        );
        // `XX区域` is not a district.
        check(
            "深圳市华南区域物流有限公司",
            "华南区域物流",
            Some("深圳市"),
            Some(LimitedLiability),
        );
        // `阿里` (阿里地区) is only matched with its suffix.
        check(
            "阿里巴巴（中国）网络技术有限公司",
            "阿里巴巴网络技术",
            Some("中国"),
            Some(LimitedLiability),
        );
        // Prefix kept when fewer than 2 characters would remain.
        let r = check("北京市A有限公司", "北京市A", None, Some(LimitedLiability));
        assert!(r.notes.contains(&note::REGION_KEPT));
        check("重庆市", "重庆市", None, None);
    }

    #[test]
    fn bare_city_name_is_stripped_documented_tradeoff() {
        let r = check(
            "黄山旅游发展股份有限公司",
            "旅游发展",
            Some("黄山"),
            Some(JointStock),
        );
        assert_eq!(r.core, "旅游"); // 发展 removed; 旅游 kept (nothing would remain)
    }

    #[test]
    fn group_is_kept_in_key() {
        let g = check(
            "中国建筑集团有限公司",
            "中国建筑集团",
            None,
            Some(LimitedLiability),
        );
        let s = check("中国建筑股份有限公司", "中国建筑", None, Some(JointStock));
        assert_eq!(g.core, "中国建筑");
        assert_eq!(similarity(&g, &s), CORE_MATCH_SCORE);
        let b = check(
            "广东某某（集团）有限公司",
            "某某集团",
            Some("广东"),
            Some(LimitedLiability),
        );
        assert!(b.notes.contains(&note::BRACKET_KEPT));
        assert_eq!(n("广东某某集团有限公司").key, b.key);
        check("中国建筑工程总公司", "中国建筑工程", None, Some(Company));
        check("某某实业集团公司", "某某实业集团", None, Some(Company));
    }

    #[test]
    fn factory_and_firm_words_are_kept() {
        check("沈阳第一机床厂", "第一机床厂", Some("沈阳"), None);
        check(
            "北京市某某律师事务所",
            "某某律师事务所",
            Some("北京市"),
            None,
        );
    }

    #[test]
    fn special_regions_and_traditional_region() {
        check(
            "香港某某贸易有限公司",
            "某某贸易",
            Some("香港"),
            Some(LimitedLiability),
        );
        let r = check(
            "臺灣某某電子股份有限公司",
            "某某电子",
            Some("台湾"),
            Some(JointStock),
        );
        assert!(r.notes.contains(&note::TRADITIONAL));
        check(
            "澳门特别行政区某某博彩有限公司",
            "某某博彩",
            Some("澳门特别行政区"),
            Some(LimitedLiability),
        );
        check(
            "广西壮族自治区某某糖业集团有限公司",
            "某某糖业集团",
            Some("广西壮族自治区"),
            Some(LimitedLiability),
        );
    }

    // ------------------------------------------------------------- brackets

    #[test]
    fn half_width_square_brackets_region() {
        check(
            "某某科技[深圳]有限公司",
            "某某科技",
            Some("深圳"),
            Some(LimitedLiability),
        );
        check(
            "某某科技〔广州市〕有限公司",
            "某某科技",
            Some("广州市"),
            Some(LimitedLiability),
        );
    }

    #[test]
    fn bracket_region_removed() {
        let r = check(
            "华为技术（深圳）有限公司",
            "华为技术",
            Some("深圳"),
            Some(LimitedLiability),
        );
        assert_eq!(
            r.notes,
            vec![note::BRACKET_REGION, note::LEGAL_FORM, note::INDUSTRY_WORDS]
        );
        check(
            "华为技术(深圳)有限公司",
            "华为技术",
            Some("深圳"),
            Some(LimitedLiability),
        );
        check(
            "某某科技【广东深圳】有限公司",
            "某某科技",
            Some("广东深圳"),
            Some(LimitedLiability),
        );
        check(
            "深圳有限公司（广州）",
            "深圳",
            Some("广州"),
            Some(LimitedLiability),
        );
        check(
            "西门子（中国）有限公司",
            "西门子",
            Some("中国"),
            Some(LimitedLiability),
        );
    }

    #[test]
    fn prefix_and_bracket_region_combined() {
        check(
            "广东华润（深圳市）医药有限公司",
            "华润医药",
            Some("广东深圳市"),
            Some(LimitedLiability),
        );
    }

    #[test]
    fn bracket_partnership_forms() {
        check(
            "深圳市红杉股权投资合伙企业（有限合伙）",
            "红杉股权投资",
            Some("深圳市"),
            Some(LimitedPartnership),
        );
        check(
            "立信会计师事务所（特殊普通合伙）",
            "立信会计师事务所",
            None,
            Some(SpecialGeneralPartnership),
        );
        check(
            "北京市某某律师事务所（普通合伙）",
            "某某律师事务所",
            Some("北京市"),
            Some(GeneralPartnership),
        );
        check("某某投资合伙企业", "某某投资", None, Some(Partnership));
        check(
            "某某餐饮店（个体工商户）",
            "某某餐饮店",
            None,
            Some(IndividualBusiness),
        );
        let r = n("某某投资合伙企业(有限合伙)");
        assert_eq!(
            r.notes,
            vec![
                note::BRACKET_LEGAL_FORM,
                note::LEGAL_FORM,
                note::INDUSTRY_WORDS
            ]
        );
    }

    #[test]
    fn other_legal_forms() {
        check(
            "某某咨询服务个人独资企业",
            "某某咨询服务",
            None,
            Some(SoleProprietorship),
        );
        check(
            "某某县某某种植专业合作社",
            "某某种植",
            Some("某某县"),
            Some(Cooperative),
        );
        check("某某五金门市部", "某某五金", None, Some(TradingUnit));
    }

    #[test]
    fn unbalanced_brackets() {
        let r = check(
            "某某科技（深圳有限公司",
            "某某科技深圳",
            None,
            Some(LimitedLiability),
        );
        assert!(r.notes.contains(&note::UNBALANCED_BRACKETS));
        let r = check(
            "某某科技）有限公司",
            "某某科技",
            None,
            Some(LimitedLiability),
        );
        assert!(r.notes.contains(&note::UNBALANCED_BRACKETS));
        // Deep nesting (beyond the fixed stack) must not panic.
        let deep = format!("{}某某{}有限公司", "(".repeat(20), ")".repeat(20));
        assert_eq!(n(&deep).key, "某某");
    }

    // ------------------------------------------------------------- branches

    #[test]
    fn branch_of_company() {
        let r = check(
            "华为技术有限公司深圳分公司",
            "华为技术",
            None,
            Some(LimitedLiability),
        );
        assert!(r.branch);
        assert_eq!(r.branch_name.as_deref(), Some("深圳分公司"));
        assert!(r.notes.contains(&note::BRANCH));
        assert_eq!(similarity(&r, &n("华为技术有限公司")), 1.0);
    }

    #[test]
    fn branch_of_bank() {
        let r = check(
            "中国工商银行股份有限公司广州天河支行",
            "中国工商银行",
            None,
            Some(JointStock),
        );
        assert_eq!(r.branch_name.as_deref(), Some("广州天河支行"));
        let r = check("中国银行深圳分行", "中国银行", None, None);
        assert_eq!(r.branch_name.as_deref(), Some("深圳分行"));
        let r = check(
            "某某证券股份有限公司深圳深南大道证券营业部",
            "某某证券",
            None,
            Some(JointStock),
        );
        assert_eq!(r.branch_name.as_deref(), Some("深圳深南大道证券营业部"));
        let r = check("某某建设集团广州分公司", "某某建设集团", None, None);
        assert_eq!(r.branch_name.as_deref(), Some("广州分公司"));
    }

    #[test]
    fn branch_without_parent_marker_or_too_short() {
        let r = check("某某物流东莞分公司", "某某物流", None, None);
        assert_eq!(r.branch_name.as_deref(), Some("东莞分公司"));
        let r = check("分公司", "分公司", None, None);
        assert!(!r.branch);
    }

    // --------------------------------------------- width, case, punctuation

    #[test]
    fn fullwidth_latin_digits() {
        let r = check(
            "ＡＢＣ科技（深圳）有限公司",
            "ABC科技",
            Some("深圳"),
            Some(LimitedLiability),
        );
        assert_eq!(r.notes[0], note::FULLWIDTH);
        check(
            "深圳市１２３网络有限公司",
            "123网络",
            Some("深圳市"),
            Some(LimitedLiability),
        );
        check("abc科技有限公司", "ABC科技", None, Some(LimitedLiability));
    }

    #[test]
    fn punctuation_and_spaces_removed() {
        let r = check(
            " 北京·某某　科技-发展《有限》公司。",
            "某某科技发展",
            Some("北京"),
            Some(LimitedLiability),
        );
        assert!(r.notes.contains(&note::PUNCTUATION));
        assert!(!r.notes.contains(&note::FULLWIDTH)); // only U+3000, which is whitespace
        check(
            "“某某”、「建材」_商行/",
            "某某建材",
            None,
            Some(TradingUnit),
        );
    }

    #[test]
    fn english_names() {
        check(
            "IBM（中国）有限公司",
            "IBM",
            Some("中国"),
            Some(LimitedLiability),
        );
        check(
            "Apple Computer Trading (Shanghai) Co., Ltd.",
            "APPLECOMPUTERTRADINGSHANGHAI",
            None,
            Some(Foreign),
        );
        check("HSBC Holdings Limited", "HSBCHOLDINGS", None, Some(Foreign));
        // `INC` inside a word is not a legal form.
        check("Global Zinc", "GLOBALZINC", None, None);
        check("Global Zinc Inc.", "GLOBALZINC", None, Some(Foreign));
    }

    // ------------------------------------------------------------ edge cases

    #[test]
    fn empty_and_whitespace() {
        for s in ["", "   ", "\u{3000}\t\n", "（）", "·、，"] {
            let r = n(s);
            assert_eq!(r.key, "", "{s:?}");
            assert_eq!(r.core, "");
            assert_eq!(r.region_prefix, None);
            assert_eq!(r.legal_form, None);
            assert!(!r.branch);
        }
        assert_eq!(similarity(&n(""), &n("")), 0.0);
    }

    #[test]
    fn only_legal_form_keeps_key() {
        let r = check("有限公司", "有限公司", None, None);
        assert_eq!(r.notes, vec![note::LEGAL_FORM_KEPT]);
        check("股份有限公司", "股份有限公司", None, None);
        check("广州市有限公司", "广州市", None, Some(LimitedLiability));
        check("公司", "公司", None, None);
    }

    #[test]
    fn very_long_name_no_panic() {
        let long = format!("深圳市{}有限公司", "某".repeat(250));
        let r = check(
            &long,
            &"某".repeat(250),
            Some("深圳市"),
            Some(LimitedLiability),
        );
        assert_eq!(r.core.chars().count(), 250);
        let weird = "（".repeat(300) + &"分公司".repeat(100) + &"）".repeat(300);
        let r = n(&weird);
        assert!(r.branch);
        // 分公司×100 → branch split (分公司) → trailing 公司 is a legal form.
        assert_eq!(r.key.chars().count(), 295);
        assert_eq!(r.branch_name.as_deref(), Some("分公司"));
        assert_eq!(r.legal_form, Some(Company));
    }

    #[test]
    fn traditional_branch() {
        let r = check(
            "華為技術有限公司深圳分公司",
            "华为技术",
            None,
            Some(LimitedLiability),
        );
        assert_eq!(r.branch_name.as_deref(), Some("深圳分公司"));
        assert_eq!(
            explain(&r, &n("华为技术有限公司")),
            "same name 华为技术 after removing legal form 有限公司 and branch 深圳分公司, converting traditional to simplified / \
             去除组织形式（有限公司）与分支机构（深圳分公司）并经繁简转换后名称相同"
        );
    }

    #[test]
    fn very_long_input_is_linear() {
        // 60,000 characters with brackets and punctuation: must finish quickly in debug.
        let big = "某(深圳)科，".repeat(10_000);
        let st = std::time::Instant::now();
        let r = n(&big);
        assert_eq!(r.key.chars().count(), 20_000);
        assert_eq!(
            r.region_prefix.as_deref().map(|x| x.chars().count()),
            Some(20_000)
        );
        assert!(st.elapsed().as_secs() < 5);
    }

    // --------------------------------------------------------------- persons

    #[test]
    fn person_names() {
        assert_eq!(normalize_person("艾力·买买提"), "艾力买买提");
        assert_eq!(normalize_person("艾力•买买提"), "艾力买买提");
        assert_eq!(normalize_person("艾力.买买提"), "艾力买买提");
        assert_eq!(normalize_person("艾力 ・ 买买提"), "艾力买买提");
        assert_eq!(normalize_person("艾力‧买买提"), "艾力买买提");
        assert_eq!(normalize_person("張 三"), "张三");
        assert_eq!(normalize_person("ｊｏｈｎ　ｓｍｉｔｈ"), "JOHNSMITH");
        assert_eq!(normalize_person("José María"), "JOSÉMARÍA");
        assert_eq!(normalize_person("  "), "");
        assert_eq!(normalize_person("陳\u{200B}國華"), "陈国华");
        assert_eq!(normalize_person("阿卜杜拉．艾尼瓦尔"), "阿卜杜拉艾尼瓦尔");
    }

    // -------------------------------------------------------------- fuzzy

    #[test]
    fn similarity_scores() {
        let a = n("中国建筑第八工程局有限公司");
        let b = n("中国建筑第七工程局有限公司");
        assert_eq!(similarity(&a, &b), 0.75);
        assert_eq!(similarity(&a, &a), 1.0);
        assert_eq!(similarity(&a, &n("北京百度网讯科技有限公司")), 0.0);
        let t1 = n("深圳市腾讯计算机系统有限公司");
        let t2 = n("腾讯科技（深圳）有限公司");
        assert_eq!(t2.core, "腾讯");
        assert_eq!(similarity(&t1, &t2), CORE_MATCH_SCORE);
        let x = n("某某建筑工程有限公司");
        let y = n("某某建筑有限公司");
        assert_eq!(y.key, "某某建筑");
        assert_eq!(similarity(&x, &y), CORE_MATCH_SCORE); // both core 某某
        let p = n("华为技术有限公司");
        let q = n("华为数字技术有限公司");
        assert_eq!(similarity(&p, &q), CORE_MATCH_SCORE);
        let u = n("某某建材经营部");
        let v = n("某某建树商行");
        assert_eq!(u.key, "某某建材");
        assert_eq!(v.key, "某某建树");
        // bigrams 某某 某建 建材 vs 某某 某建 建树: 2*2/6 (cores 某某 vs 某某建树 differ)
        assert!((similarity(&u, &v) - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(similarity(&n("A"), &n("B")), 0.0);
    }

    #[test]
    fn similarity_symmetric_and_bounded() {
        let names = [
            "深圳市腾讯计算机系统有限公司",
            "腾讯科技（深圳）有限公司",
            "某某建材经营部",
            "IBM（中国）有限公司",
            "",
        ];
        for x in names {
            for y in names {
                let (a, b) = (n(x), n(y));
                let s = similarity(&a, &b);
                assert!((0.0..=1.0).contains(&s));
                assert_eq!(s, similarity(&b, &a));
            }
        }
    }

    #[test]
    fn explain_region_and_legal_form() {
        let a = n("广州市建筑工程有限公司");
        let b = n("建筑工程有限公司");
        assert_eq!(
            explain(&a, &b),
            "same name 建筑工程 after removing region prefix 广州市 and legal form 有限公司 / \
             去除地区前缀（广州市）与组织形式（有限公司）后名称相同"
        );
    }

    #[test]
    fn explain_traditional() {
        let a = n("广州市建筑工程有限公司");
        let b = n("廣州市建築工程有限公司");
        assert_eq!(
            explain(&a, &b),
            "same name 建筑工程 after removing region prefix 广州市 and legal form 有限公司, \
             converting traditional to simplified / \
             去除地区前缀（广州市）与组织形式（有限公司）并经繁简转换后名称相同"
        );
        assert_eq!(
            explain(&n("某某建材"), &n("某某建材")),
            "identical normalized name 某某建材 / 规范化后名称相同（某某建材）"
        );
        assert_eq!(
            explain(&n("ＡＢ建材"), &n("AB建材")),
            "same name AB建材 after converting full-width characters / 经全角转半角后名称相同"
        );
    }

    #[test]
    fn explain_differences() {
        let a = n("深圳市某某科技有限公司");
        let b = n("广州市某某科技股份有限公司");
        assert_eq!(
            explain(&a, &b),
            "same name 某某科技 after removing different region prefixes 深圳市 vs 广州市 and \
             different legal forms 有限公司 vs 股份有限公司 / \
             去除不同地区前缀（深圳市/广州市）与不同组织形式（有限公司/股份有限公司）后名称相同"
        );
        let br = n("华为技术有限公司深圳分公司");
        assert_eq!(
            explain(&br, &n("华为技术有限公司")),
            "same name 华为技术 after removing legal form 有限公司 and branch 深圳分公司 / \
             去除组织形式（有限公司）与分支机构（深圳分公司）后名称相同"
        );
        assert_eq!(
            explain(
                &n("深圳市腾讯计算机系统有限公司"),
                &n("腾讯科技（深圳）有限公司")
            ),
            "same trade name 腾讯 after removing industry words (腾讯计算机系统 vs 腾讯科技) / 去除行业用语后字号相同（腾讯）"
        );
        assert_eq!(
            explain(
                &n("中国建筑第八工程局有限公司"),
                &n("中国建筑第七工程局有限公司")
            ),
            "similar names 中国建筑第八工程局 vs 中国建筑第七工程局 (bigram Dice 0.75) / 名称相似（二元组相似度0.75）"
        );
        assert_eq!(
            explain(
                &n("北京百度网讯科技有限公司"),
                &n("阿里巴巴（中国）网络技术有限公司")
            ),
            "different names 百度网讯科技 vs 阿里巴巴网络技术 (bigram Dice 0.00) / 名称不同（二元组相似度0.00）"
        );
        assert_eq!(
            explain(&n(""), &n("某某")),
            "cannot compare: empty name / 名称为空，无法比较"
        );
    }

    #[test]
    fn legal_form_labels() {
        assert_eq!(LimitedLiability.as_chinese(), "有限公司");
        assert_eq!(JointStock.as_english(), "company limited by shares");
        assert_eq!(SpecialGeneralPartnership.as_chinese(), "特殊普通合伙");
    }

    // ---------------------------------------------------------------- timing

    /// `cargo test --release -- --ignored --nocapture timing`
    #[test]
    #[ignore]
    fn timing_100k() {
        let templates = [
            "深圳市腾讯计算机系统有限公司",
            "廣州市建築工程有限公司",
            "华为技术（深圳）有限公司",
            "北京百度网讯科技有限公司",
            "揭阳市揭西县某某建材经营部",
            "中国建筑第八工程局有限公司",
        ];
        let names: Vec<String> = (0..100_000)
            .map(|i| format!("{}{}", templates[i % templates.len()], i % 97))
            .collect();
        // Typical 12-character name (plus a short numeric tail varied to defeat caching).
        let start = std::time::Instant::now();
        let mut total = 0usize;
        for s in &names {
            total += std::hint::black_box(normalize_company(std::hint::black_box(s)))
                .key
                .len();
        }
        let el = start.elapsed();
        println!(
            "normalize_company: {:.0} ns/op over {} names (checksum {total})",
            el.as_nanos() as f64 / names.len() as f64,
            names.len()
        );
        let fixed = "深圳市腾讯计算机系统有限公司";
        let start = std::time::Instant::now();
        for _ in 0..100_000 {
            std::hint::black_box(normalize_company(std::hint::black_box(fixed)));
        }
        println!(
            "normalize_company({fixed}): {:.0} ns/op",
            start.elapsed().as_nanos() as f64 / 100_000.0
        );
        let (a, b) = (
            normalize_company(fixed),
            normalize_company("腾讯科技（深圳）有限公司"),
        );
        let start = std::time::Instant::now();
        for _ in 0..100_000 {
            std::hint::black_box(similarity(
                std::hint::black_box(&a),
                std::hint::black_box(&b),
            ));
        }
        println!(
            "similarity: {:.0} ns/op",
            start.elapsed().as_nanos() as f64 / 100_000.0
        );
    }
}
