//! The in-memory match index: every list entry the node holds, reduced to what a screening
//! decision needs, with exact keys for identifiers and normalised names.
//!
//! Layout (chosen for ≤ 150 bytes per entry at ten million entries):
//! - `slots`: one 32-byte [`Slot`] per entry (id, period, list, measures, status, version);
//! - postings: (64-bit key hash, slot) pairs, one per key of an entry: its subject code, the
//!   organisation code inside a USCC, the legal representative's ID, and each name's
//!   normalised key and trade-name core (subject name and former names). The bulk lives in two
//!   parallel sorted vectors (12 bytes a posting), with a directory on the top bits of the hash
//!   (`starts`, about 8 postings a bucket, under 1 byte a posting) so that a look-up touches
//!   three cache lines instead of binary-searching tens of millions of hashes; keys added after
//!   the build go to a small hash map that is merged into the sorted part when it grows.
//! - [`IndexBuilder`] builds it a page of entries at a time (keys computed on every core), so
//!   the build never holds all entries at once.
//!
//! A hash can collide; a hit is only a candidate, confirmed against the entry read from the
//! database before it reaches an answer (see `engine`). Hand-written rather than a crate: no
//! maintained crate offers a compact multi-map of hashed keys with this memory profile.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use time::Date;
use uuid::Uuid;

use crate::domain::lists::{EntryStatus, ListCatalogue, ListNature, MEASURES};
use crate::domain::names::{normalize_company, normalize_person};

/// What kind of key a posting is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum KeyKind {
    /// The entry's subject code (USCC or citizen ID).
    Subject = 1,
    /// Characters 9–17 of a USCC subject (the organisation code).
    OrgCode = 2,
    /// The legal representative's citizen ID named on the entry.
    LegalRep = 3,
    /// A name's normalised key (`names::NormalizedName::key`).
    Name = 4,
    /// A name's trade-name core (`names::NormalizedName::core`).
    Core = 5,
}

/// Hash of a key of some kind (SipHash with fixed keys: stable within and across runs).
pub fn key_hash(kind: KeyKind, key: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    (kind as u8).hash(&mut hasher);
    key.hash(&mut hasher);
    hasher.finish()
}

/// High bit of a posting's slot number: the key came from a former name (曾用名).
const FORMER: u32 = 1 << 31;

/// One entry, compactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Entry id.
    pub id: [u8; 16],
    /// First day in force (Julian day number).
    pub from: i32,
    /// Last day in force (Julian day number; `i32::MAX` = open-ended).
    pub to: i32,
    /// Index of the list in the catalogue (`u16::MAX` = a list this node does not know).
    pub list: u16,
    /// Measures, one bit per entry of [`MEASURES`].
    pub measures: u16,
    /// 0 active, 1 ended, 2 withdrawn.
    pub status: u8,
    /// 0 punitive, 1 warning, 2 incentive, 3 unknown list.
    pub nature: u8,
    /// Entry version.
    pub version: u16,
}

impl Slot {
    /// The entry id.
    pub fn id(&self) -> Uuid {
        Uuid::from_bytes(self.id)
    }

    /// Whether withdrawn (never in force).
    pub fn withdrawn(&self) -> bool {
        self.status == 2
    }

    /// Whether in force on `day`.
    pub fn in_force_on(&self, day: Date) -> bool {
        let day = day.to_julian_day();
        !self.withdrawn() && self.from <= day && day <= self.to
    }

    /// Days from `day` to the first day in force (negative: started before).
    pub fn days_until_start(&self, day: Date) -> i64 {
        i64::from(self.from) - i64::from(day.to_julian_day())
    }

    /// Days from the last day in force to `day` (negative: still to end), `None` if
    /// open-ended.
    pub fn days_since_end(&self, day: Date) -> Option<i64> {
        (self.to != i32::MAX).then(|| i64::from(day.to_julian_day()) - i64::from(self.to))
    }

    /// The list's nature (`None` for a list this node does not know).
    pub fn nature(&self) -> Option<ListNature> {
        match self.nature {
            0 => Some(ListNature::Punitive),
            1 => Some(ListNature::Warning),
            2 => Some(ListNature::Incentive),
            _ => None,
        }
    }
}

/// Bit of a measure code in [`Slot::measures`].
pub fn measure_bit(code: &str) -> u16 {
    MEASURES
        .iter()
        .position(|(known, _, _)| *known == code)
        .map_or(0, |i| 1u16 << i)
}

/// An entry as the index takes it (from the database's narrow columns or a replicated change).
#[derive(Clone, Debug)]
pub struct IndexEntry {
    /// Entry id.
    pub id: Uuid,
    /// List code.
    pub list: String,
    /// Version.
    pub version: i32,
    /// Status.
    pub status: EntryStatus,
    /// Subject code.
    pub subject_code: String,
    /// Subject kind (`uscc` or `citizen_id`).
    pub subject_kind: String,
    /// Subject name first, then former names.
    pub names: Vec<String>,
    /// Measure codes.
    pub measures: Vec<String>,
    /// Legal representative's ID.
    pub rep_id: Option<String>,
    /// First day in force.
    pub effective_from: Date,
    /// Last day in force.
    pub effective_to: Option<Date>,
}

/// Why a slot came up for a bidder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HitKey {
    /// Same USCC.
    Uscc,
    /// Same organisation code (characters 9–17) under another USCC.
    OrgCode,
    /// The bidder's legal representative is the listed person, or the legal representative
    /// named on the entry.
    LegalRep,
    /// Same normalised name.
    Name,
    /// Same normalised former name of the listed subject.
    FormerName,
    /// Same trade-name core (fuzzy tier).
    Core,
}

impl HitKey {
    /// Wire form.
    pub const fn as_str(self) -> &'static str {
        match self {
            HitKey::Uscc => "uscc",
            HitKey::OrgCode => "organization_code",
            HitKey::LegalRep => "legal_representative_id",
            HitKey::Name => "name",
            HitKey::FormerName => "former_name",
            HitKey::Core => "name_core",
        }
    }

    /// Whether the hit rests on an identifier (as opposed to a name).
    pub const fn is_identifier(self) -> bool {
        matches!(self, HitKey::Uscc)
    }
}

/// The index.
#[derive(Debug, Default)]
pub struct MatchIndex {
    slots: Vec<Slot>,
    /// Sorted key hashes of the bulk postings …
    hashes: Vec<u64>,
    /// … and their slots (same order).
    targets: Vec<u32>,
    /// Bucket directory: the postings whose hash has top `bucket_bits` bits `b` are
    /// `starts[b]..starts[b + 1]`.
    starts: Vec<u32>,
    bucket_bits: u32,
    /// Postings added since the last merge.
    recent: HashMap<u64, Vec<u32>>,
    recent_postings: usize,
    /// List codes by catalogue position (a slot's `list`).
    list_codes: Vec<String>,
    natures: Vec<u8>,
}

fn nature_code(nature: ListNature) -> u8 {
    match nature {
        ListNature::Punitive => 0,
        ListNature::Warning => 1,
        ListNature::Incentive => 2,
    }
}

fn status_code(status: EntryStatus) -> u8 {
    match status {
        EntryStatus::Active => 0,
        EntryStatus::Ended => 1,
        EntryStatus::Withdrawn => 2,
    }
}

/// The keys of an entry, as (hash, former-name flag).
fn entry_keys(entry: &IndexEntry) -> Vec<(u64, bool)> {
    let mut keys = vec![(key_hash(KeyKind::Subject, &entry.subject_code), false)];
    if entry.subject_kind == "uscc" && entry.subject_code.len() == 18 {
        keys.push((
            key_hash(KeyKind::OrgCode, &entry.subject_code[8..17]),
            false,
        ));
    }
    if let Some(rep) = &entry.rep_id {
        keys.push((key_hash(KeyKind::LegalRep, rep), false));
    }
    for (i, name) in entry.names.iter().enumerate() {
        let former = i > 0;
        if entry.subject_kind == "citizen_id" {
            let person = normalize_person(name);
            if !person.is_empty() {
                keys.push((key_hash(KeyKind::Name, &person), former));
            }
            continue;
        }
        let normalized = normalize_company(name);
        if normalized.key.chars().count() >= 2 {
            keys.push((key_hash(KeyKind::Name, &normalized.key), former));
        }
        if normalized.core.chars().count() >= 2 && normalized.core != normalized.key {
            keys.push((key_hash(KeyKind::Core, &normalized.core), former));
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

impl MatchIndex {
    /// An empty index for `catalogue`.
    pub fn new(catalogue: &ListCatalogue) -> MatchIndex {
        MatchIndex {
            list_codes: catalogue.all().iter().map(|l| l.code.clone()).collect(),
            natures: catalogue
                .all()
                .iter()
                .map(|l| nature_code(l.nature))
                .collect(),
            ..MatchIndex::default()
        }
    }

    /// Number of entries indexed.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Bytes held by the index's own structures (slots, postings, recent map), for the
    /// memory benchmark and the `integrity_match_index_bytes` gauge.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Slot>()
            + self.hashes.capacity() * size_of::<u64>()
            + self.targets.capacity() * size_of::<u32>()
            + self.starts.capacity() * size_of::<u32>()
            + self.recent.capacity() * (size_of::<(u64, Vec<u32>)>() + 1)
            + self
                .recent
                .values()
                .map(|v| v.capacity() * size_of::<u32>())
                .sum::<usize>()
    }

    /// The list code of a slot.
    pub fn list_code(&self, slot: &Slot) -> &str {
        self.list_codes
            .get(usize::from(slot.list))
            .map_or("unknown", String::as_str)
    }

    fn slot_of(&self, entry: &IndexEntry) -> Slot {
        let list = self
            .list_codes
            .iter()
            .position(|code| *code == entry.list)
            .and_then(|i| u16::try_from(i).ok());
        Slot {
            id: *entry.id.as_bytes(),
            from: entry.effective_from.to_julian_day(),
            to: entry.effective_to.map_or(i32::MAX, Date::to_julian_day),
            list: list.unwrap_or(u16::MAX),
            measures: entry.measures.iter().fold(0, |m, c| m | measure_bit(c)),
            status: status_code(entry.status),
            nature: list.map_or(3, |i| self.natures[usize::from(i)]),
            version: u16::try_from(entry.version).unwrap_or(u16::MAX),
        }
    }

    /// Builds the index from entries in bulk (tests; the node uses [`IndexBuilder`] page by
    /// page).
    pub fn build(catalogue: &ListCatalogue, entries: impl IntoIterator<Item = IndexEntry>) -> Self {
        let mut builder = IndexBuilder::new(catalogue);
        builder.add(&entries.into_iter().collect::<Vec<_>>());
        builder.finish()
    }

    fn set_bulk(&mut self, mut postings: Vec<(u64, u32)>) {
        postings.sort_unstable();
        postings.dedup();
        self.hashes = postings.iter().map(|(h, _)| *h).collect();
        self.targets = postings.iter().map(|(_, t)| *t).collect();
        drop(postings);
        self.hashes.shrink_to_fit();
        self.targets.shrink_to_fit();
        self.slots.shrink_to_fit();
        self.set_directory();
    }

    /// Rebuilds `starts` for about 8 postings a bucket.
    fn set_directory(&mut self) {
        let n = self.hashes.len();
        self.bucket_bits = (n / 8).max(1).ilog2().min(32);
        let buckets = 1usize << self.bucket_bits;
        let mut starts = Vec::with_capacity(buckets + 1);
        let mut position = 0usize;
        for bucket in 0..buckets {
            while position < n && self.bucket_of(self.hashes[position]) < bucket {
                position += 1;
            }
            starts.push(u32::try_from(position).unwrap_or(u32::MAX));
        }
        starts.push(u32::try_from(n).unwrap_or(u32::MAX));
        self.starts = starts;
    }

    fn bucket_of(&self, hash: u64) -> usize {
        if self.bucket_bits == 0 {
            0
        } else {
            (hash >> (64 - self.bucket_bits)) as usize
        }
    }

    /// The range of `hashes` (and `targets`) of the bucket `hash` falls in.
    fn bucket_bounds(&self, hash: u64) -> (usize, usize) {
        let bucket = self.bucket_of(hash);
        match (self.starts.get(bucket), self.starts.get(bucket + 1)) {
            (Some(first), Some(last)) => (*first as usize, *last as usize),
            _ => (0, 0),
        }
    }

    /// The range of postings equal to `hash` inside its bucket's `bounds`.
    fn run_of(&self, hash: u64, (first, last): (usize, usize)) -> (usize, usize) {
        let in_bucket = self.hashes.get(first..last).unwrap_or_default();
        let start = in_bucket.partition_point(|h| *h < hash);
        let end = start + in_bucket[start..].partition_point(|h| *h == hash);
        (first + start, first + end)
    }

    /// Postings of a key hash: (slot number, from a former name).
    fn postings(&self, hash: u64) -> impl Iterator<Item = (u32, bool)> + '_ {
        let (start, end) = self.run_of(hash, self.bucket_bounds(hash));
        self.targets[start..end]
            .iter()
            .chain(self.recent.get(&hash).into_iter().flatten())
            .map(|t| (t & !FORMER, t & FORMER != 0))
    }

    /// Adds or updates one entry (a newer version replaces an older one in place; an older
    /// or equal version is ignored).
    pub fn upsert(&mut self, entry: &IndexEntry) {
        let slot = self.slot_of(entry);
        let subject = key_hash(KeyKind::Subject, &entry.subject_code);
        let existing = self
            .postings(subject)
            .map(|(n, _)| n)
            .find(|n| self.slots[*n as usize].id == slot.id);
        if let Some(n) = existing {
            let current = &mut self.slots[n as usize];
            if current.version < slot.version {
                // Identity, names and keys never change between versions of an entry; only
                // status and period (and, in principle, measures) do.
                *current = slot;
            }
            return;
        }
        let Ok(n) = u32::try_from(self.slots.len()) else {
            return;
        };
        self.slots.push(slot);
        for (hash, former) in entry_keys(entry) {
            self.recent
                .entry(hash)
                .or_default()
                .push(if former { n | FORMER } else { n });
            self.recent_postings += 1;
        }
        if self.recent_postings > (self.hashes.len() / 8).max(100_000) {
            self.merge_recent();
        }
    }

    fn merge_recent(&mut self) {
        let mut postings: Vec<(u64, u32)> = self
            .hashes
            .iter()
            .copied()
            .zip(self.targets.iter().copied())
            .collect();
        for (hash, targets) in self.recent.drain() {
            postings.extend(targets.into_iter().map(|t| (hash, t)));
        }
        self.recent_postings = 0;
        self.set_bulk(postings);
    }

    /// Candidate slots for a bidder, each with the strongest reason it came up.
    pub fn candidates(&self, bidder: &BidderKeys) -> Vec<(HitKey, Slot)> {
        self.candidates_many(&[Some(bidder)])
            .pop()
            .unwrap_or_default()
    }

    /// [`MatchIndex::candidates`] of many bidders (`None`: no look-up, no candidates).
    ///
    /// A look-up is three dependent reads far apart in memory (bucket directory, hashes,
    /// targets), each a cache miss on a large index. Done bidder by bidder the misses come one
    /// after another; here every look-up of the request goes through each step before any goes
    /// through the next, so the loads of one step are independent and the CPU overlaps their
    /// misses (memory-level parallelism). A single-bidder call is the same code.
    pub fn candidates_many(&self, bidders: &[Option<&BidderKeys>]) -> Vec<Vec<(HitKey, Slot)>> {
        // 1. Every key of every bidder: (bidder, reason, hash).
        let mut lookups: Vec<(u32, HitKey, u64)> = Vec::with_capacity(bidders.len() * 5);
        for (b, bidder) in bidders.iter().enumerate() {
            let Some(bidder) = bidder else { continue };
            let b = u32::try_from(b).unwrap_or(u32::MAX);
            if let Some(uscc) = &bidder.uscc {
                lookups.push((b, HitKey::Uscc, key_hash(KeyKind::Subject, uscc)));
                if uscc.len() == 18 {
                    lookups.push((b, HitKey::OrgCode, key_hash(KeyKind::OrgCode, &uscc[8..17])));
                }
            }
            if let Some(rep) = &bidder.rep_id {
                lookups.push((b, HitKey::LegalRep, key_hash(KeyKind::Subject, rep)));
                lookups.push((b, HitKey::LegalRep, key_hash(KeyKind::LegalRep, rep)));
            }
            if let Some(name) = &bidder.name_key {
                // Name or former name: told apart by the posting's flag below.
                lookups.push((b, HitKey::Name, key_hash(KeyKind::Name, name)));
            }
            if let Some(core) = &bidder.name_core {
                lookups.push((b, HitKey::Core, key_hash(KeyKind::Core, core)));
            }
        }
        // 2. Bucket bounds of all look-ups, then 3. the run of each hash inside its bucket.
        let bounds: Vec<(usize, usize)> = lookups
            .iter()
            .map(|(_, _, hash)| self.bucket_bounds(*hash))
            .collect();
        // 2b. Touch each bucket's first hash before searching any: a few instructions a
        // look-up, so the out-of-order window holds dozens of these independent misses at
        // once, where the binary searches of step 3 (tens of instructions each) let it hold
        // only a handful. A prefetch instruction would say it directly but is `unsafe` to
        // call, which this crate forbids; a load whose value feeds `black_box` is the safe
        // equivalent (1,000-bidder batch: BENCHMARKS.md, 2026-12-06).
        let touched = bounds.iter().fold(0u64, |acc, &(first, last)| {
            if first < last {
                acc ^ self.hashes.get(first).copied().unwrap_or(0)
            } else {
                acc
            }
        });
        std::hint::black_box(touched);
        let runs: Vec<(usize, usize)> = lookups
            .iter()
            .zip(bounds)
            .map(|((_, _, hash), bounds)| self.run_of(*hash, bounds))
            .collect();
        // 4. The (rare) postings found, strongest reason per slot and bidder.
        let mut found: Vec<HashMap<u32, HitKey>> = vec![HashMap::new(); bidders.len()];
        let recent = !self.recent.is_empty();
        for ((b, key, hash), (start, end)) in lookups.iter().zip(runs) {
            let targets = self.targets.get(start..end).unwrap_or_default().iter();
            let later = recent
                .then(|| self.recent.get(hash))
                .flatten()
                .into_iter()
                .flatten();
            for target in targets.chain(later) {
                let (n, former) = (target & !FORMER, target & FORMER != 0);
                let key = match key {
                    HitKey::Name if former => HitKey::FormerName,
                    other => *other,
                };
                found[*b as usize]
                    .entry(n)
                    .and_modify(|k| *k = (*k).min(key))
                    .or_insert(key);
            }
        }
        found
            .into_iter()
            .map(|found| {
                let mut out: Vec<(HitKey, Slot)> = found
                    .into_iter()
                    .filter_map(|(n, key)| self.slots.get(n as usize).map(|slot| (key, *slot)))
                    .collect();
                out.sort_by_key(|(key, slot)| (*key, slot.id));
                out
            })
            .collect()
    }
}

/// Builds a [`MatchIndex`] a page of entries at a time: each page's keys (name normalisation
/// is most of the work) are computed on every available core, and only the compact slots and
/// postings are kept, never the entries themselves.
#[derive(Debug)]
pub struct IndexBuilder {
    index: MatchIndex,
    postings: Vec<(u64, u32)>,
    threads: usize,
}

impl IndexBuilder {
    /// A builder for an index of `catalogue`'s lists.
    pub fn new(catalogue: &ListCatalogue) -> IndexBuilder {
        IndexBuilder {
            index: MatchIndex::new(catalogue),
            postings: Vec::new(),
            threads: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }

    /// Adds a page of entries (in order: slot numbers follow the order of the pages).
    pub fn add(&mut self, entries: &[IndexEntry]) {
        let first = self.index.slots.len();
        let room = (FORMER as usize).saturating_sub(first);
        let entries = &entries[..entries.len().min(room)];
        let index = &self.index;
        let per_thread = entries.len().div_ceil(self.threads).max(1);
        let parts: Vec<PageKeys> = if self.threads == 1 || entries.len() < 2 {
            vec![keys_of(index, entries, first)]
        } else {
            std::thread::scope(|scope| {
                let workers: Vec<_> = entries
                    .chunks(per_thread)
                    .enumerate()
                    .map(|(i, chunk)| {
                        scope.spawn(move || keys_of(index, chunk, first + i * per_thread))
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|worker| worker.join().unwrap_or_default())
                    .collect()
            })
        };
        for (slots, postings) in parts {
            self.index.slots.extend(slots);
            self.postings.extend(postings);
        }
    }

    /// Entries added so far.
    pub fn len(&self) -> usize {
        self.index.slots.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.index.slots.is_empty()
    }

    /// The index.
    pub fn finish(mut self) -> MatchIndex {
        self.index.set_bulk(self.postings);
        self.index
    }
}

/// Slots and postings (key hash, slot number) of part of a page.
type PageKeys = (Vec<Slot>, Vec<(u64, u32)>);

/// Slots and postings of `entries`, the first of which gets slot number `first`.
fn keys_of(index: &MatchIndex, entries: &[IndexEntry], first: usize) -> PageKeys {
    let mut slots = Vec::with_capacity(entries.len());
    let mut postings = Vec::with_capacity(entries.len() * 6);
    for (i, entry) in entries.iter().enumerate() {
        let slot_no = (first + i) as u32;
        slots.push(index.slot_of(entry));
        for (hash, former) in entry_keys(entry) {
            postings.push((hash, if former { slot_no | FORMER } else { slot_no }));
        }
    }
    (slots, postings)
}

/// A bidder's lookup keys, already validated and normalised.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BidderKeys {
    /// USCC.
    pub uscc: Option<String>,
    /// Legal representative's citizen ID.
    pub rep_id: Option<String>,
    /// Normalised company name key.
    pub name_key: Option<String>,
    /// Trade-name core, when it differs from the key.
    pub name_core: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn entry(id: u128, code: &str, names: &[&str]) -> IndexEntry {
        IndexEntry {
            id: Uuid::from_u128(id),
            list: "serious_dishonesty".into(),
            version: 1,
            status: EntryStatus::Active,
            subject_code: code.into(),
            subject_kind: "uscc".into(),
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            measures: vec!["restrict_bidding".into()],
            rep_id: Some("445122198503121231".into()),
            effective_from: date!(2026 - 01 - 01),
            effective_to: Some(date!(2028 - 12 - 31)),
        }
    }

    fn keys(uscc: Option<&str>, name: Option<&str>) -> BidderKeys {
        let normalized = name.map(normalize_company);
        BidderKeys {
            uscc: uscc.map(str::to_owned),
            rep_id: None,
            name_key: normalized.as_ref().map(|n| n.key.clone()),
            name_core: normalized.map(|n| n.core),
        }
    }

    #[test]
    fn identifiers_names_and_former_names_find_their_entries() {
        let catalogue = ListCatalogue::new(&[]).unwrap();
        let index = MatchIndex::build(
            &catalogue,
            [
                entry(
                    1,
                    "91445122MA4W123460",
                    &["饶平县某某建筑工程有限公司", "饶平县某某建材有限公司"],
                ),
                entry(2, "91445122MA4W12354T", &["潮州市另一家贸易有限公司"]),
            ],
        );
        assert_eq!(index.len(), 2);
        let hits = index.candidates(&keys(Some("91445122MA4W123460"), None));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].0, HitKey::Uscc);
        assert_eq!(hits[0].1.id(), Uuid::from_u128(1));
        // Traditional characters and another region prefix still find the entry by name.
        let by_name = index.candidates(&keys(None, Some("某某建築工程有限公司")));
        assert_eq!(
            by_name.first().map(|h| h.0),
            Some(HitKey::Name),
            "{by_name:?}"
        );
        let by_former = index.candidates(&keys(None, Some("饶平县某某建材有限公司")));
        assert_eq!(by_former.first().map(|h| h.0), Some(HitKey::FormerName));
        assert!(
            index
                .candidates(&keys(None, Some("完全无关的公司")))
                .is_empty()
        );
        // The strongest reason wins when several keys lead to one entry.
        let both = index.candidates(&keys(
            Some("91445122MA4W123460"),
            Some("饶平县某某建筑工程有限公司"),
        ));
        assert_eq!(both.len(), 1);
        assert_eq!(both[0].0, HitKey::Uscc);
    }

    #[test]
    fn updates_replace_older_versions_and_new_entries_are_found() {
        let catalogue = ListCatalogue::new(&[]).unwrap();
        let mut index =
            MatchIndex::build(&catalogue, [entry(1, "91445122MA4W123460", &["甲公司"])]);
        let day = date!(2026 - 06 - 15);
        assert!(
            index.candidates(&keys(Some("91445122MA4W123460"), None))[0]
                .1
                .in_force_on(day)
        );
        let mut ended = entry(1, "91445122MA4W123460", &["甲公司"]);
        ended.version = 2;
        ended.status = EntryStatus::Ended;
        ended.effective_to = Some(date!(2026 - 06 - 14));
        index.upsert(&ended);
        let slot = index.candidates(&keys(Some("91445122MA4W123460"), None))[0].1;
        assert!(!slot.in_force_on(day) && slot.in_force_on(date!(2026 - 06 - 14)));
        // A replay of the older version changes nothing.
        index.upsert(&entry(1, "91445122MA4W123460", &["甲公司"]));
        assert!(
            !index.candidates(&keys(Some("91445122MA4W123460"), None))[0]
                .1
                .in_force_on(day)
        );
        assert_eq!(index.len(), 1);
        index.upsert(&entry(3, "91445122MA4W12362M", &["乙公司"]));
        assert_eq!(index.len(), 2);
        assert_eq!(
            index.candidates(&keys(Some("91445122MA4W12362M"), None))[0]
                .1
                .id(),
            Uuid::from_u128(3)
        );
        index.merge_recent();
        assert_eq!(
            index.candidates(&keys(Some("91445122MA4W12362M"), None))[0]
                .1
                .id(),
            Uuid::from_u128(3),
            "still found after a merge"
        );
        assert_eq!(size_of::<Slot>(), 32);
    }

    fn uscc(n: u32) -> String {
        // Distinct 18-character codes are enough for the index (it does not validate them).
        // The organisation code (characters 9-17) differs too.
        format!("9144512{n:010}X")
    }

    #[test]
    fn the_bucket_directory_finds_every_key_at_scale_and_after_merges() {
        let catalogue = ListCatalogue::new(&[]).unwrap();
        let entries: Vec<IndexEntry> = (0..5_000u32)
            .map(|n| {
                entry(
                    u128::from(n) + 1,
                    &uscc(n),
                    &[&format!("饶平县第{n}号建材有限公司")],
                )
            })
            .collect();
        // Built in uneven pages, as the matcher does, and in one go: the same index.
        let mut builder = IndexBuilder::new(&catalogue);
        for page in entries.chunks(777) {
            builder.add(page);
        }
        assert_eq!(builder.len(), 5_000);
        let index = builder.finish();
        let whole = MatchIndex::build(&catalogue, entries.clone());
        assert_eq!(index.hashes, whole.hashes);
        assert_eq!(index.targets, whole.targets);
        assert_eq!(index.slots, whole.slots);
        assert!(index.bucket_bits >= 8, "{}", index.bucket_bits);
        assert_eq!(index.starts.len(), (1 << index.bucket_bits) + 1);
        for n in (0..5_000u32).step_by(7) {
            let hits = index.candidates(&keys(Some(&uscc(n)), None));
            assert_eq!(hits.len(), 1, "{n}");
            assert_eq!(hits[0].1.id(), Uuid::from_u128(u128::from(n) + 1));
        }
        assert!(index.candidates(&keys(Some(&uscc(9_999)), None)).is_empty());
        // Growing through upserts and merges keeps every key reachable, and the directory
        // grows with the postings.
        let mut index = index;
        let bits = index.bucket_bits;
        for n in 5_000..30_000u32 {
            index.upsert(&entry(u128::from(n) + 1, &uscc(n), &["某公司"]));
        }
        index.merge_recent();
        assert!(index.bucket_bits > bits);
        for n in (0..30_000u32).step_by(11) {
            let hits = index.candidates(&keys(Some(&uscc(n)), None));
            assert_eq!(hits.len(), 1, "{n}");
            assert_eq!(hits[0].1.id(), Uuid::from_u128(u128::from(n) + 1));
        }
    }

    #[test]
    fn an_empty_index_answers_nothing() {
        let catalogue = ListCatalogue::new(&[]).unwrap();
        let index = IndexBuilder::new(&catalogue).finish();
        assert!(index.is_empty());
        assert!(
            index
                .candidates(&keys(Some(&uscc(1)), Some("某某有限公司")))
                .is_empty()
        );
    }
}
