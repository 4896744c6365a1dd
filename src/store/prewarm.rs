//! Reading one SQLite index's pages into the operating system's page cache, many reads in
//! flight, ahead of a scan of that index in key order (embedded SQLite only).
//!
//! Why: the match index is built at start by scanning the covering index
//! `ix_list_entries_match` in `id` order (`Store::index_pages`). Its pages lie scattered over
//! the database file, between the table's pages, so SQLite reads them one 4 KB page at a
//! time, each read waiting for the last. On a cold virtual disk that is about 35 MB/s, and at
//! ten million entries (2.8 GB of index) the build took 80–115 s after a reboot against ~40 s
//! warm (BENCHMARKS.md). The same disk serves five times as many reads a second when sixteen
//! are in flight. So while the build scans, [`Prewarm`] walks the same B-tree level by level
//! and reads its pages in key order with sixteen threads; the scan then finds its pages in
//! memory. PostgreSQL's `pg_prewarm` does the same for its buffer cache.
//!
//! Hand-rolled, because nothing else lists an index's pages without reading them one at a
//! time: SQLite's `dbstat` table walks the tree itself, in the same order as the scan. What
//! is read here is the documented B-tree page layout (<https://sqlite.org/fileformat2.html>,
//! "B-tree Pages"): the page size in the header, and on an interior index page (type 2) the
//! cell count, the right-most child and the cells' left children. Everything read is
//! bounds-checked, and the result is only a hint: a page that does not parse ends the walk
//! below it, and the newest version of a page in the write-ahead log is not looked at (an
//! out-of-date child number only warms a page the scan does not need). Overflow pages of very
//! long keys are not followed; SQLite reads those itself.
//!
//! Reading fills the page cache, not this process's memory; the reads stop at half the
//! memory the kernel reports available, so a database larger than the machine's memory does
//! not push out what the scan is about to use, and when the build is done
//! ([`Prewarm::finish`]).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Reads in flight (threads, each doing one read at a time).
const READERS: usize = 16;
/// Consecutive pages (in key order) a reader takes at a time.
const CHUNK: usize = 32;
/// A B-tree deeper than this is not an index of this database.
const MAX_LEVELS: usize = 24;

/// A prewarm running on threads of its own; dropped, it stops at the next chunk of pages.
#[derive(Debug)]
pub struct Prewarm {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<PrewarmReport>>,
}

impl Drop for Prewarm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What a prewarm read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrewarmReport {
    /// Pages read (interior and leaf).
    pub pages: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Levels of the tree walked (the leaves included).
    pub levels: usize,
    /// Whether it stopped before the last leaf (stopped, budget reached, or a read failed).
    pub partial: bool,
    pub took: Duration,
}

impl Prewarm {
    /// Starts reading the B-tree whose root is page `root` of the database file `path`.
    /// `budget` is the most bytes it may read.
    pub fn start(path: PathBuf, root: u32, budget: u64) -> std::io::Result<Prewarm> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("index-prewarm".into())
            .spawn(move || {
                let started = Instant::now();
                let mut report = walk(&path, root, budget, &flag).unwrap_or(PrewarmReport {
                    partial: true,
                    ..PrewarmReport::default()
                });
                report.took = started.elapsed();
                report
            })?;
        Ok(Prewarm {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops reading (the scan it helps is over) and says what it read.
    pub fn finish(self) -> PrewarmReport {
        self.stop.store(true, Ordering::Relaxed);
        self.wait()
    }

    /// Waits for the last page and says what it read.
    pub fn wait(mut self) -> PrewarmReport {
        let failed = PrewarmReport {
            partial: true,
            ..PrewarmReport::default()
        };
        match self.handle.take() {
            Some(handle) => handle.join().unwrap_or(failed),
            None => failed,
        }
    }
}

/// The database's page size and its number of pages.
fn geometry(file: &File) -> std::io::Result<(usize, u64)> {
    let mut header = [0u8; 100];
    file.read_exact_at(&mut header, 0)?;
    if &header[..16] != b"SQLite format 3\0" {
        return Err(std::io::Error::other("not an SQLite database file"));
    }
    // Offset 16: the page size, big-endian; 1 stands for 65536.
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n if n >= 512 && n.is_power_of_two() => usize::from(n),
        _ => return Err(std::io::Error::other("page size out of range")),
    };
    let pages = file.metadata()?.len() / page_size as u64;
    Ok((page_size, pages))
}

/// The child page numbers of an interior index page, in key order (left children of its
/// cells, then the right-most pointer); empty for a leaf or a page that does not parse.
fn children(page: &[u8], number: u32, pages: u64) -> Vec<u32> {
    // Page 1 starts with the 100-byte file header.
    let header = if number == 1 { 100 } else { 0 };
    let byte = |at: usize| page.get(at).copied();
    let u16_at = |at: usize| Some(u16::from_be_bytes([byte(at)?, byte(at + 1)?]));
    let u32_at = |at: usize| {
        Some(u32::from_be_bytes([
            byte(at)?,
            byte(at + 1)?,
            byte(at + 2)?,
            byte(at + 3)?,
        ]))
    };
    let valid = |child: u32| child >= 2 && u64::from(child) <= pages;
    if byte(header) != Some(2) {
        return Vec::new();
    }
    let (Some(cells), Some(right)) = (u16_at(header + 3), u32_at(header + 8)) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(usize::from(cells) + 1);
    for cell in 0..usize::from(cells) {
        let Some(offset) = u16_at(header + 12 + 2 * cell) else {
            return Vec::new();
        };
        match u32_at(usize::from(offset)) {
            Some(child) if valid(child) => out.push(child),
            _ => return Vec::new(),
        }
    }
    if valid(right) {
        out.push(right);
    }
    out
}

/// Walks the tree level by level; each level's pages are read by [`READERS`] threads in key
/// order, and the children of its interior pages make the next level.
fn walk(path: &Path, root: u32, budget: u64, stop: &AtomicBool) -> std::io::Result<PrewarmReport> {
    let file = File::open(path)?;
    let (page_size, pages) = geometry(&file)?;
    let mut left = usize::try_from(budget / page_size as u64).unwrap_or(usize::MAX);
    let mut report = PrewarmReport::default();
    let mut level = vec![root];
    while !level.is_empty() && report.levels < MAX_LEVELS {
        if level.len() > left {
            level.truncate(left);
            report.partial = true;
        }
        left -= level.len();
        let cursor = AtomicUsize::new(0);
        let read = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let found: Vec<Vec<(usize, Vec<u32>)>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..READERS.min(level.len().div_ceil(CHUNK)).max(1))
                .map(|_| {
                    scope.spawn(|| {
                        let mut buffer = vec![0u8; page_size];
                        let mut found = Vec::new();
                        loop {
                            let first = cursor.fetch_add(CHUNK, Ordering::Relaxed);
                            if first >= level.len() || stop.load(Ordering::Relaxed) {
                                break;
                            }
                            for (i, &number) in level.iter().enumerate().skip(first).take(CHUNK) {
                                let at = u64::from(number - 1) * page_size as u64;
                                if file.read_exact_at(&mut buffer, at).is_err() {
                                    failed.store(true, Ordering::Relaxed);
                                    continue;
                                }
                                read.fetch_add(1, Ordering::Relaxed);
                                let next = children(&buffer, number, pages);
                                if !next.is_empty() {
                                    found.push((i, next));
                                }
                            }
                        }
                        found
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| worker.join().unwrap_or_default())
                .collect()
        });
        report.pages += read.load(Ordering::Relaxed);
        report.bytes = (report.pages * page_size) as u64;
        report.levels += 1;
        if failed.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
            report.partial = true;
            break;
        }
        let mut found: Vec<(usize, Vec<u32>)> = found.into_iter().flatten().collect();
        found.sort_unstable_by_key(|(i, _)| *i);
        level = found.into_iter().flat_map(|(_, next)| next).collect();
    }
    if !level.is_empty() {
        report.partial = true;
    }
    Ok(report)
}

/// Half of the memory the kernel reports available (`MemAvailable`), or 1 GiB where it
/// cannot be read.
pub fn page_cache_budget() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemAvailable:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or(1 << 30, |kib| kib * 1024 / 2)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn interior(cells: &[u32], right: u32, page_size: usize, header: usize) -> Vec<u8> {
        let mut page = vec![0u8; page_size];
        page[header] = 2;
        page[header + 3..header + 5].copy_from_slice(&(cells.len() as u16).to_be_bytes());
        page[header + 8..header + 12].copy_from_slice(&right.to_be_bytes());
        for (i, child) in cells.iter().enumerate() {
            // Cells from the end of the page backwards, as SQLite lays them out.
            let offset = page_size - 16 * (i + 1);
            page[header + 12 + 2 * i..header + 14 + 2 * i]
                .copy_from_slice(&(offset as u16).to_be_bytes());
            page[offset..offset + 4].copy_from_slice(&child.to_be_bytes());
        }
        page
    }

    #[test]
    fn interior_pages_give_their_children_in_key_order_and_anything_else_none() {
        let page = interior(&[7, 3, 9], 5, 4096, 0);
        assert_eq!(children(&page, 2, 100), vec![7, 3, 9, 5]);
        // Page 1 has the file header first.
        let first = interior(&[4], 6, 4096, 100);
        assert_eq!(children(&first, 1, 100), vec![4, 6]);
        // A leaf (type 10), a table page (type 5) and a child beyond the file's end: none.
        let mut leaf = page.clone();
        leaf[0] = 10;
        assert!(children(&leaf, 2, 100).is_empty());
        let mut table = page.clone();
        table[0] = 5;
        assert!(children(&table, 2, 100).is_empty());
        assert!(children(&interior(&[7, 300], 5, 4096, 0), 2, 100).is_empty());
        // A cell pointer past the page's end.
        let mut broken = page;
        broken[12..14].copy_from_slice(&5000u16.to_be_bytes());
        assert!(children(&broken, 2, 100).is_empty());
    }

    /// A real SQLite file: the walk reaches every page of an index, root to leaves, and reads
    /// no page twice; a budget of fewer pages stops it, said so.
    #[tokio::test]
    async fn the_walk_reads_every_page_of_a_real_index_once() {
        use sea_orm::sqlx::{Connection, Executor, SqliteConnection};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.sqlite3");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let mut db = SqliteConnection::connect(&url).await.unwrap();
        db.execute("CREATE TABLE t (id TEXT PRIMARY KEY, payload TEXT, k TEXT)")
            .await
            .unwrap();
        db.execute("CREATE INDEX ix_k ON t (k, id)").await.unwrap();
        let mut tx = db.begin().await.unwrap();
        for i in 0..20_000u32 {
            sea_orm::sqlx::query("INSERT INTO t VALUES (?, ?, ?)")
                .bind(format!("{i:08}"))
                .bind("x".repeat(300))
                .bind(format!("key-{:08}", i.wrapping_mul(2_654_435_761)))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let (root,): (i64,) =
            sea_orm::sqlx::query_as("SELECT rootpage FROM sqlite_schema WHERE name = 'ix_k'")
                .fetch_one(&mut db)
                .await
                .unwrap();
        // The index's page count as SQLite itself counts it (dbstat reads the tree).
        let (expected,): (i64,) =
            sea_orm::sqlx::query_as("SELECT count(*) FROM dbstat WHERE name = 'ix_k'")
                .fetch_one(&mut db)
                .await
                .unwrap();
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").await.ok();
        db.close().await.unwrap();

        let root = u32::try_from(root).unwrap();
        let report = Prewarm::start(path.clone(), root, u64::MAX).unwrap().wait();
        assert!(!report.partial, "{report:?}");
        assert!(
            report.levels >= 2,
            "a tree of 20,000 keys has interior pages: {report:?}"
        );
        assert_eq!(report.pages as i64, expected, "{report:?}");
        // A key of ~30 bytes: at least 20,000 × 30 bytes of pages.
        assert!(report.bytes > 600_000, "{report:?}");

        let limited = Prewarm::start(path.clone(), root, 4096 * 3).unwrap().wait();
        assert!(limited.partial && limited.pages <= 3, "{limited:?}");
        assert!(
            Prewarm::start(dir.path().join("none"), root, u64::MAX)
                .unwrap()
                .wait()
                .partial
        );
    }
}
