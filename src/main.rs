//! The `orakgaraki` command: `serve` (the default), `token`, `analyze`, `embed`, `pitch`, `reembed`, `catalog`, `migrate`.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use orakgaraki::auth::Role;
use orakgaraki::config::{CliOverrides, Config};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "orakgaraki", version, about = "Voice analysis service")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Clone, Default)]
struct Common {
    /// Configuration file (default: ./config.toml when it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (database, objects, secret).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0: any free port).
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
    },
    /// Print a bearer token signed with this instance's secret.
    Token {
        #[command(flatten)]
        common: Common,
        /// The user the token names.
        #[arg(long)]
        user: String,
        /// Give the token the admin role.
        #[arg(long)]
        admin: bool,
        /// Lifetime in seconds (default: auth.token_ttl_seconds).
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// Analyse an audio file and print the measurements (no server needed).
    Analyze {
        /// The recording (WAV, FLAC, MP3, Ogg/Vorbis, Opus, AAC/M4A, WebM…).
        file: PathBuf,
        /// Print the full analysis as one JSON object.
        #[arg(long)]
        json: bool,
        /// Skip the voice embedding (the model pass).
        #[arg(long)]
        no_embedding: bool,
        /// With --json, also print the whole pitch track (`pitch_track`: one F0
        /// per analysis frame, null where unvoiced).
        #[arg(long)]
        track: bool,
        /// The pitch tracker the range comes from: auto, pyin or swiftf0 (default:
        /// `[analysis] pitch`).
        #[arg(long)]
        pitch: Option<orakgaraki::audio::PitchTracker>,
        /// Analyse this many times in this process (without the embedding) and print
        /// each run's wall and CPU seconds instead (benchmarks).
        #[arg(long, value_name = "N")]
        repeat: Option<usize>,
        #[command(flatten)]
        common: Common,
    },
    /// Print a recording's voice embedding as JSON (resemblyzer's
    /// `embed_utterance(preprocess_wav(FILE))`), without the other measurements.
    Embed {
        /// The recording.
        file: PathBuf,
        /// Embed this many times and print the per-run seconds instead (benchmarks).
        #[arg(long, value_name = "N")]
        repeat: Option<usize>,
        #[command(flatten)]
        common: Common,
    },
    /// Print a recording's SwiftF0 pitch track as CSV (seconds, Hz, confidence;
    /// voiced where the confidence is at least 0.5).
    Pitch {
        /// The recording.
        file: PathBuf,
        /// Track this many times (the file decoded once) and print each run's wall
        /// and CPU seconds instead (benchmarks).
        #[arg(long, value_name = "N")]
        repeat: Option<usize>,
    },
    /// Re-embed every completed record whose embedding is missing or from another
    /// model version (resumable: run it again to continue).
    Reembed {
        #[command(flatten)]
        common: Common,
    },
    /// Manage the song catalog recommendations rank.
    Catalog {
        #[command(subcommand)]
        action: CatalogAction,
    },
    /// Create or migrate the database, then exit.
    Migrate {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum CatalogAction {
    /// Load a catalog CSV (songs.csv's columns): new songs are added, known ones
    /// (same song_id) replaced. Nothing is loaded if any row is malformed.
    Import {
        /// The CSV file.
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
}

/// Runs `once` `n` times (at least once) and prints each run's wall and CPU
/// seconds as JSON (the `--repeat` benchmarks).
fn print_timed_runs(n: usize, mut once: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<()> {
    let (mut wall, mut cpu) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n.max(1) {
        let (t, c) = (std::time::Instant::now(), thread_cpu_seconds());
        once()?;
        wall.push(t.elapsed().as_secs_f64());
        cpu.push(thread_cpu_seconds().zip(c).map(|(after, before)| after - before));
    }
    println!("{}", serde_json::json!({ "seconds": wall, "cpu_seconds": cpu }));
    Ok(())
}

fn load(common: &Common, bind: Option<String>) -> anyhow::Result<Config> {
    Ok(Config::load(&CliOverrides { config_file: common.config.clone(), data_dir: common.data_dir.clone(), bind })?)
}

/// Logs: human-readable lines on stderr (colours in a terminal); with `[log] format
/// = "json"`, the server writes JSON lines on stdout (for a log shipper: timestamp,
/// level, target, the event's fields, and the spans' — request_id, actor, …).
/// Other commands keep stdout for their output.
fn init_tracing(config: &Config, serving: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi);
    match (config.log.format == "json", serving) {
        (true, true) => builder.json().flatten_event(true).with_writer(std::io::stdout).init(),
        (true, false) => builder.json().flatten_event(true).with_writer(std::io::stderr).init(),
        (false, _) => builder.with_writer(std::io::stderr).init(),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve { common: Common::default(), bind: None });
    match command {
        Command::Serve { common, bind } => {
            let config = load(&common, bind)?;
            init_tracing(&config, true);
            let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
            rt.block_on(orakgaraki::app::serve(config))?;
        }
        Command::Token { common, user, admin, ttl } => {
            let config = load(&common, None)?;
            if user.trim().is_empty() {
                anyhow::bail!("--user must not be empty");
            }
            let keys = orakgaraki::app::jwt_keys(&config)?;
            let role = if admin { Role::Admin } else { Role::User };
            let now = orakgaraki::clock::now_ms() / 1000;
            println!("{}", keys.issue(&user, role, now, ttl.unwrap_or(config.auth.token_ttl_seconds))?);
        }
        Command::Analyze { file, repeat: Some(n), pitch, .. } => print_timed_runs(n, || {
            // The analysis `--pitch` names (the side model excepted: `pitch` times it).
            let follow_melody = pitch.unwrap_or_default().follows_melody();
            let (f, ext) = open_audio(&file)?;
            orakgaraki::audio::analyze(
                f,
                ext.as_deref(),
                orakgaraki::audio::Limits { follow_melody, ..Default::default() },
            )
            .with_context(|| format!("cannot analyse {}", file.display()))?;
            Ok(())
        })?,
        Command::Analyze { file, json, no_embedding, track, pitch, repeat: None, common } => {
            let config = load(&common, None)?;
            let (f, ext) = open_audio(&file)?;
            let started = std::time::Instant::now();
            let embed = !no_embedding && config.model.enabled;
            let pitch = pitch.unwrap_or(config.analysis.pitch);
            let limits = orakgaraki::audio::Limits {
                keep_track: track,
                follow_melody: pitch.follows_melody(),
                ..Default::default()
            };
            let pitch_model = orakgaraki::model::pitch_model(pitch)?;
            let voice_seconds = if embed { config.model.max_seconds } else { 0.0 };
            let (mut a, voice) =
                orakgaraki::audio::analyze_with_voice(f, ext.as_deref(), limits, voice_seconds, pitch_model)
                    .with_context(|| format!("cannot analyse {}", file.display()))?;
            if embed {
                let encoder =
                    orakgaraki::model::load_encoder(&config.model.weights, &orakgaraki::model::default_device())?;
                match orakgaraki::model::Embedder::new(encoder)
                    .with_max_batch(config.model.max_batch)
                    .embed_wav(&voice.samples)
                {
                    Ok(e) => a.embedding = Some(e),
                    Err(orakgaraki::model::ModelError::NoVoice(why)) => eprintln!("no voice embedding: {why}"),
                    Err(e) => return Err(e).context("computing the voice embedding"),
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&a)?);
            } else {
                print!("{}", orakgaraki::audio::report::text(&a, started.elapsed()));
            }
        }
        Command::Embed { file, repeat, common } => {
            let config = load(&common, None)?;
            let encoder = orakgaraki::model::load_encoder(&config.model.weights, &orakgaraki::model::default_device())?;
            let embedder = orakgaraki::model::Embedder::new(encoder).with_max_batch(config.model.max_batch);
            let once = || -> anyhow::Result<orakgaraki::domain::Embedding> {
                let (f, ext) = open_audio(&file)?;
                let voice = orakgaraki::audio::capture::capture_voice(f, ext.as_deref(), config.model.max_seconds)
                    .with_context(|| format!("cannot decode {}", file.display()))?;
                Ok(embedder.embed_wav(&voice.samples)?)
            };
            match repeat {
                None => println!("{}", serde_json::to_string(&once()?)?),
                Some(n) => {
                    let mut runs = Vec::with_capacity(n);
                    for _ in 0..n.max(1) {
                        let t = std::time::Instant::now();
                        once()?;
                        runs.push(t.elapsed().as_secs_f64());
                    }
                    println!("{}", serde_json::json!({ "seconds": runs }));
                }
            }
        }
        Command::Pitch { file, repeat } => {
            use orakgaraki::model::swiftf0::{FMAX, FMIN, HOP, SAMPLE_RATE, SwiftF0};
            let (f, ext) = open_audio(&file)?;
            let longest = orakgaraki::audio::Limits::default().max_duration_s;
            let audio = orakgaraki::audio::capture::capture_voice(f, ext.as_deref(), longest)
                .with_context(|| format!("cannot decode {}", file.display()))?;
            let model = SwiftF0::pretrained()?;
            match repeat {
                None => {
                    println!("seconds,hz,confidence");
                    for (t, p) in model.detect(&audio.samples, FMIN, FMAX).iter().enumerate() {
                        println!("{:.3},{:.2},{:.4}", (t * HOP) as f64 / f64::from(SAMPLE_RATE), p.hz, p.confidence);
                    }
                }
                Some(n) => print_timed_runs(n, || {
                    std::hint::black_box(model.detect(&audio.samples, FMIN, FMAX));
                    Ok(())
                })?,
            }
        }
        Command::Reembed { common } => {
            let config = load(&common, None)?;
            init_tracing(&config, false);
            let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
            let stats = rt.block_on(async {
                let (store, objects) = orakgaraki::app::open_stores(&config).await?;
                let bar = indicatif::ProgressBar::new(0);
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} records  {elapsed} (eta {eta})")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                let stats = orakgaraki::reembed::run(&config, store, objects, |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                })
                .await?;
                bar.finish();
                anyhow::Ok(stats)
            })?;
            println!(
                "re-embedded {} records with {} {} ({} without voice, {} failed)",
                stats.embedded,
                orakgaraki::model::MODEL_NAME,
                orakgaraki::model::MODEL_VERSION,
                stats.no_voice,
                stats.failed
            );
            if stats.failed > 0 {
                anyhow::bail!("{} records could not be re-embedded (see the log); run again to retry", stats.failed);
            }
        }
        Command::Catalog { action: CatalogAction::Import { file, common } } => {
            let config = load(&common, None)?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let songs = match orakgaraki::domain::catalog::parse_catalog(&text) {
                Ok(songs) => songs,
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{}: {e}", file.display());
                    }
                    anyhow::bail!("{} malformed rows in {}; nothing was imported", errors.len(), file.display());
                }
            };
            std::fs::create_dir_all(&config.storage.data_dir)?;
            let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
            let outcome = rt.block_on(async {
                let store = orakgaraki::store::open_database(&config.database_url(), 1).await?.db;
                store.upsert_songs(&songs, orakgaraki::clock::now_ms()).await
            })?;
            println!(
                "imported {} songs ({} new, {} updated); the catalog has {} songs",
                songs.len(),
                outcome.inserted,
                outcome.updated,
                outcome.total
            );
        }
        Command::Migrate { common } => {
            let config = load(&common, None)?;
            init_tracing(&config, false);
            std::fs::create_dir_all(&config.storage.data_dir)?;
            let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
            // Opening a database runs its pending migrations.
            rt.block_on(orakgaraki::store::open_database(&config.database_url(), 1))?;
            println!("database {} is up to date", config.database_url_redacted());
        }
    }
    Ok(())
}

/// A recording opened for decoding, buffered, with its lower-cased extension (the
/// format hint).
fn open_audio(file: &std::path::Path) -> anyhow::Result<(std::io::BufReader<std::fs::File>, Option<String>)> {
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let ext = file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    Ok((std::io::BufReader::with_capacity(256 * 1024, f), ext))
}

/// CPU time this thread has run, from Linux's scheduler statistics (nanoseconds,
/// unlike `getrusage`'s ticks); `None` elsewhere.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}
