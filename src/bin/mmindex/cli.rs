//! Command-line arguments. The spellings are relied on by scripts: the
//! README's "Command line" section documents them; change both together.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Exit code of a command that completed with some records skipped.
pub const EXIT_PARTIAL: u8 = 3;

/// Largest `--top-k` and `--rerank`, as the server's `top_k` and `rerank`:
/// bounds the cost of one query.
pub const MAX_RESULTS: usize = 10_000;

/// Longest of the server's timeouts, in seconds (a day): deadlines are
/// instants, and one far in the future would overflow.
const MAX_SECS: u64 = 86_400;

/// A share in (0, 1]: clap refuses anything else as a usage error (exit 2).
fn share(s: &str) -> Result<f32, String> {
    let v: f32 = s.parse().map_err(|e| format!("{e}"))?;
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(format!("{s} is not in (0, 1]"))
    }
}

/// A parser of integers in `lo..=hi`: clap then refuses anything else as a
/// usage error (exit 2) naming the range.
fn bounded<T>(lo: T, hi: T) -> impl Fn(&str) -> Result<T, String> + Clone
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    T::Err: std::fmt::Display,
{
    move |s: &str| {
        let n: T = s.parse().map_err(|e| format!("{e}"))?;
        if lo <= n && n <= hi {
            Ok(n)
        } else {
            Err(format!("must be in {lo}..={hi}"))
        }
    }
}

#[derive(Parser)]
#[command(
    name = "mmindex",
    version,
    about = "Embedded image-retrieval index: build, add, search, verify."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Train a codebook on a folder of images and index them all.
    Build(BuildArgs),
    /// Train a codebook only (no records are stored).
    Train(BuildArgs),
    /// Add records with the existing codebook (re-adding an id replaces it).
    Add(AddArgs),
    /// Remove records by id.
    Remove(RemoveArgs),
    /// Find the stored images most similar to each query image.
    Search(SearchArgs),
    /// Train a new codebook over the stored records and switch to it atomically.
    Rebuild(RebuildArgs),
    /// Print counts and sizes.
    Stats(StatsArgs),
    /// Check every invariant of the stored index; exit 1 on a violation.
    Verify(IndexArg),
    /// Rewrite the index into a fresh directory to give back space sled
    /// still holds for rewritten and deleted values (the index must not be
    /// open elsewhere).
    Compact(IndexArg),
    /// Serve searches and writes over HTTP JSON (docs/SERVER.md).
    Serve(ServeArgs),
    /// Write the index's vocabulary (codebook, IDF, extraction settings) to
    /// a file, for `build --vocabulary` and for describing images elsewhere.
    ExportVocabulary(ExportArgs),
}

/// `--shard I/N`: keep only the records that `shard_of` routes to shard I
/// of N.
#[derive(Clone, Copy, Debug)]
pub struct Shard {
    pub index: usize,
    pub of: usize,
}

pub fn parse_shard(s: &str) -> Result<Shard, String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("{s}: expected I/N, e.g. 0/4"))?;
    let index: usize = i.parse().map_err(|e| format!("{i}: {e}"))?;
    let of: usize = n.parse().map_err(|e| format!("{n}: {e}"))?;
    if of == 0 || index >= of {
        return Err(format!("{s}: need 0 <= I < N"));
    }
    Ok(Shard { index, of })
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub index: IndexArg,
    /// The vocabulary file to write (replaced atomically).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args)]
pub struct ServeArgs {
    /// The index directory.
    #[arg(long, required_unless_present = "shards", conflicts_with = "shards")]
    pub index: Option<PathBuf>,
    /// Serve several indexes as one, instead of --index: shards built on
    /// one exported vocabulary (`build --vocabulary FILE --shard I/N`),
    /// given in shard order 0..N-1 (repeat the option). Searches cover
    /// every shard; a record is read, written and removed in the shard
    /// `shard_of` routes its id to.
    #[arg(long = "shard", value_name = "DIR")]
    pub shards: Vec<PathBuf>,
    /// Address to listen on; a non-loopback address needs --token-file.
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub listen: String,
    /// File holding a bearer token (at least 16 bytes) that writes must send.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Require the token for reads (search, stats, records) too.
    #[arg(long)]
    pub protect_reads: bool,
    /// Largest request body in bytes; larger uploads get 413 unread.
    #[arg(long, default_value_t = 32 << 20)]
    pub max_upload_bytes: usize,
    /// Seconds a client has to send a request's head (method, path,
    /// headers): from the connection's start for its first request, from the
    /// first byte for later ones. A slower client is disconnected.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=MAX_SECS))]
    pub header_timeout_secs: u64,
    /// Seconds a connection may stay open with no request under way and
    /// nothing received or sent before it is closed.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=MAX_SECS))]
    pub idle_timeout_secs: u64,
    /// Connections open at once at most (lowered to fit the open-file
    /// limit). At the cap, the oldest connection with no request under way
    /// is closed to let a new one in; if there is none, clients wait to be
    /// accepted.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Seconds SIGTERM or ctrl-c waits for requests under way before the
    /// connections still open are dropped (a write already handed to the
    /// writer still completes and is flushed before exit).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=MAX_SECS))]
    pub shutdown_grace_secs: u64,
    /// Test hook: every search holds its slot this many milliseconds longer,
    /// so that tests can make searches outlast --timeout-secs.
    #[arg(long, default_value_t = 0, hide = true)]
    pub test_search_delay_ms: u64,
    /// Folder that `POST /records:batch` may read images from (off when unset).
    #[arg(long)]
    pub allowed_root: Option<PathBuf>,
    /// Seconds before a request is answered 408 (a write already under way
    /// still completes; a search keeps its slot until its work ends).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(0..=MAX_SECS))]
    pub timeout_secs: u64,
    /// After start, read the most frequent words' posting lists into
    /// memory in the background (until the block cache is full), so that
    /// the first searches do not each read theirs from disk.
    #[arg(long)]
    pub warm: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args)]
pub struct IndexArg {
    /// The index directory.
    #[arg(long)]
    pub index: PathBuf,
}

#[derive(Args)]
pub struct RunArgs {
    /// Extraction threads (0 = one per core; at most 256).
    #[arg(long, default_value_t = 0, value_parser = bounded(0, mmindex::MAX_WORKERS))]
    pub workers: usize,
    /// Records per batch (one transaction each).
    #[arg(long, default_value_t = 50)]
    pub batch_size: usize,
    /// Share of the available RAM to use, in (0, 1].
    #[arg(long, default_value_t = 0.8)]
    pub memory_fraction: f64,
    /// Absolute memory cap in bytes (applied after the fraction).
    #[arg(long)]
    pub memory_limit: Option<u64>,
    /// Largest image file read, in bytes; a larger file fails its record
    /// unread.
    #[arg(long, default_value_t = mmindex::config::DEFAULT_MAX_FILE_BYTES,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_file_bytes: u64,
    /// Builds and rebuilds of more images than this train the codebook on
    /// this many, chosen at random, and describe the others while storing
    /// them, with no temporary files; up to this many, every image's
    /// descriptors are spilled to a temporary file until the codebook
    /// exists (0 = always).
    #[arg(long, default_value_t = mmindex::DEFAULT_TRAINING_IMAGES)]
    pub training_images: usize,
}

impl RunArgs {
    /// The library's run options.
    pub fn options(&self) -> mmindex::RunOptions {
        mmindex::RunOptions {
            workers: self.workers,
            batch_size: self.batch_size,
            memory_fraction: self.memory_fraction,
            memory_limit: self.memory_limit,
            max_file_bytes: self.max_file_bytes,
            training_images: self.training_images,
        }
    }
}

#[derive(Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub index: IndexArg,
    /// Folder of images; a record's id is its path relative to it.
    #[arg(long)]
    pub images: PathBuf,
    /// Local feature: sift, rootsift, orb, akaze or brisk.
    #[arg(long, default_value = "rootsift")]
    pub feature: String,
    /// Visual words in the codebook.
    #[arg(long, default_value_t = mmindex::DEFAULT_WORDS)]
    pub words: u32,
    /// Longer image side in pixels above which images are downscaled (0 = none).
    #[arg(long, default_value_t = 1024)]
    pub max_side: u32,
    /// Features kept per image at most, the strongest (1 to 100,000):
    /// fewer make smaller records and faster re-ranking, at some recall.
    /// Default: 700 for sift and rootsift, 2,000 for the binary features.
    #[arg(long, value_parser = bounded(1u32, 100_000))]
    pub max_features: Option<u32>,
    /// Use this exported vocabulary (`export-vocabulary`) instead of
    /// training one: its feature, words and extraction settings apply, and
    /// indexes built on the same file score alike.
    #[arg(long, conflicts_with_all = ["feature", "words", "max_side", "max_features"])]
    pub vocabulary: Option<PathBuf>,
    /// Keep only the images whose id routes to shard I of N (`shard_of`:
    /// a stable hash of the id), for one of N indexes searched as one;
    /// needs --vocabulary, shared by every shard.
    #[arg(long, value_name = "I/N", value_parser = parse_shard, requires = "vocabulary")]
    pub shard: Option<Shard>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub index: IndexArg,
    /// Folder of images; a record's id is its path relative to it.
    #[arg(long, conflicts_with_all = ["files", "records"])]
    pub images: Option<PathBuf>,
    /// JSON-lines records file: one object per line.
    #[arg(long, requires_all = ["id_field", "field", "files_dir"], conflicts_with = "files")]
    pub records: Option<PathBuf>,
    /// With --records: the field holding the record id (string or integer).
    #[arg(long)]
    pub id_field: Option<String>,
    /// With --records: the field holding the image file name.
    #[arg(long)]
    pub field: Option<String>,
    /// With --records: the folder the image file names are relative to.
    #[arg(long)]
    pub files_dir: Option<PathBuf>,
    /// Image files; a record's id is the path as given.
    pub files: Vec<PathBuf>,
    /// Keep only the records whose id routes to shard I of N (`shard_of`).
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    pub index: IndexArg,
    /// Record ids to remove.
    #[arg(required = true)]
    pub ids: Vec<String>,
}

#[derive(Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub index: IndexArg,
    /// Results per query (1 to 10,000).
    #[arg(long, default_value_t = 10, value_parser = bounded(1, MAX_RESULTS))]
    pub top_k: usize,
    /// Search path: inverted or sequential.
    #[arg(long, default_value = "inverted")]
    pub mode: String,
    /// Best bag-of-words candidates re-ranked by geometric verification
    /// (0 = off; at most 10,000).
    #[arg(long, default_value_t = mmindex::DEFAULT_RERANK, value_parser = bounded(0, MAX_RESULTS))]
    pub rerank: usize,
    /// Re-ranking stops once this many candidates in a row fail
    /// verification (0 = verify all of `--rerank`; at most 10,000).
    #[arg(long, default_value_t = mmindex::DEFAULT_RERANK_PATIENCE, value_parser = bounded(0, MAX_RESULTS))]
    pub rerank_patience: usize,
    /// Approximate search: the share of the query's weight kept, in (0, 1]
    /// (1 = exact). Below 1 the query's lightest words are dropped
    /// (docs/SCORING.md, "Approximate search").
    #[arg(long, default_value_t = 1.0, value_parser = share)]
    pub query_share: f32,
    /// One JSON object per query and line.
    #[arg(long)]
    pub json: bool,
    /// Query images.
    #[arg(required = true)]
    pub queries: Vec<PathBuf>,
}

#[derive(Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub index: IndexArg,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    pub index: IndexArg,
    /// Visual words of the new codebook (default: as now).
    #[arg(long)]
    pub words: Option<u32>,
    /// Feature of the new generation (default: as now).
    #[arg(long)]
    pub feature: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
}
