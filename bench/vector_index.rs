//! The voice-search index at scale: builds `orakgaraki`'s `AnnIndex` (usearch HNSW,
//! the same type and parameters the service uses) over N random or clustered
//! 256-d unit vectors, then measures in the same run: build time, memory, query
//! latency p50/p99 (one thread), and recall@10 against exact search.
//!
//!   cargo run --example vector_index -- --dataset random --n 1000000
//!   cargo run --example vector_index -- --dataset clustered --n 100000
//!
//! Options: --queries Q (default 1000), --ef 32,64,128,... (searches swept),
//! --m M, --ef-add E, --quantization f32|f16|i8, --filtered P (also time searches
//! that only accept P% of the keys, as a visibility filter does). Queries are fresh
//! draws from the dataset's distribution.
//! Latency is timed with the index's own search (C++ -O3 in every profile), so the
//! dev profile measures the same code as a release build.

use orakgaraki::store::vectors::{AnnIndex, IndexParams, Quantization, normalized};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use std::time::Instant;

const DIM: usize = 256;

struct Args {
    dataset: String,
    n: usize,
    queries: usize,
    efs: Vec<usize>,
    m: usize,
    ef_add: usize,
    quantization: Quantization,
    filtered: Option<f64>,
}

fn parse() -> Args {
    let mut a = Args {
        dataset: "random".into(),
        n: 100_000,
        queries: 1000,
        efs: vec![32, 64, 128, 256, 512],
        m: IndexParams::default().connectivity,
        ef_add: IndexParams::default().expansion_add,
        quantization: Quantization::F32,
        filtered: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--dataset" => a.dataset = val(),
            "--n" => a.n = val().parse().expect("--n"),
            "--queries" => a.queries = val().parse().expect("--queries"),
            "--ef" => a.efs = val().split(',').map(|s| s.parse().expect("--ef")).collect(),
            "--m" => a.m = val().parse().expect("--m"),
            "--ef-add" => a.ef_add = val().parse().expect("--ef-add"),
            "--quantization" => {
                a.quantization = match val().as_str() {
                    "f32" => Quantization::F32,
                    "f16" => Quantization::F16,
                    "i8" => Quantization::I8,
                    other => panic!("unknown quantization {other}"),
                }
            }
            "--filtered" => a.filtered = Some(val().parse().expect("--filtered")),
            other => panic!("unknown option {other}"),
        }
    }
    a
}

/// `n` unit vectors: uniform on the sphere, or around `n / 100` random centres.
fn dataset(kind: &str, n: usize, rng: &mut rand::rngs::StdRng, centres: &[Vec<f32>]) -> Vec<f32> {
    let gauss = Normal::new(0.0f32, 1.0).expect("normal");
    let mut out = Vec::with_capacity(n * DIM);
    for _ in 0..n {
        let v: Vec<f32> = match kind {
            "random" => (0..DIM).map(|_| gauss.sample(rng)).collect(),
            "clustered" => {
                // Noise of the same norm as the centre's share: cosine to the centre ~0.7,
                // like recordings of one voice against its mean.
                let c = &centres[rng.random_range(0..centres.len())];
                c.iter().map(|x| x + gauss.sample(rng) / (DIM as f32).sqrt()).collect()
            }
            other => panic!("unknown dataset {other} (random, clustered)"),
        };
        out.extend(normalized(&v).expect("non-zero"));
    }
    out
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let a = parse();
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let gauss = Normal::new(0.0f32, 1.0).expect("normal");
    let centres: Vec<Vec<f32>> = (0..(a.n / 100).max(1))
        .map(|_| normalized(&(0..DIM).map(|_| gauss.sample(&mut rng)).collect::<Vec<_>>()).expect("centre"))
        .collect();
    let data = dataset(&a.dataset, a.n, &mut rng, &centres);
    let queries = dataset(&a.dataset, a.queries, &mut rng, &centres);
    let keys: Vec<u64> = (1..=a.n as u64).collect();

    let params = IndexParams {
        dimensions: DIM,
        connectivity: a.m,
        expansion_add: a.ef_add,
        expansion_search: a.efs[0],
        quantization: a.quantization,
    };
    let rss_before = rss_mib();
    let t = Instant::now();
    let mut index = AnnIndex::new(params, a.n).expect("index");
    index.add_batch(&keys, &data).expect("build");
    let build_s = t.elapsed().as_secs_f64();
    let rss_after = rss_mib();
    println!(
        "dataset={} n={} dim={DIM} M={} ef_add={} quantization={:?} build_threads={} build_s={build_s:.1} index_mib={:.0} rss_growth_mib={:.0}",
        a.dataset,
        a.n,
        a.m,
        a.ef_add,
        a.quantization,
        index.threads(),
        index.memory_bytes() as f64 / 1048576.0,
        rss_after - rss_before
    );
    drop(data);

    // Ground truth: exact search over the same index (brute force, every vector).
    let t = Instant::now();
    let truth: Vec<Vec<u64>> =
        queries.chunks_exact(DIM).map(|q| index.exact(q, 10).expect("exact").iter().map(|n| n.key).collect()).collect();
    let exact_ms = t.elapsed().as_secs_f64() * 1000.0 / a.queries as f64;
    println!("exact search: {exact_ms:.2} ms/query (single thread, SIMD brute force)");

    println!("| ef | recall@10 | p50 ms | p99 ms | mean ms |");
    println!("|---:|---:|---:|---:|---:|");
    for &ef in &a.efs {
        index.set_expansion_search(ef);
        let mut times = Vec::with_capacity(a.queries);
        let mut hits = 0usize;
        for (q, want) in queries.chunks_exact(DIM).zip(&truth) {
            let t = Instant::now();
            let got = index.search_all(q, 10).expect("search");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            hits += got.iter().filter(|n| want.contains(&n.key)).count();
        }
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        println!(
            "| {ef} | {:.4} | {:.3} | {:.3} | {:.3} |",
            hits as f64 / (10 * a.queries) as f64,
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            mean
        );
    }

    if let Some(pct) = a.filtered {
        // Keys whose hash falls under pct% pass, like public recordings of others.
        let keep = move |k: u64| (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % 10_000 < (pct * 100.0) as u64;
        let allowed: Vec<u64> = keys.iter().copied().filter(|k| keep(*k)).collect();
        println!("filtered: {pct}% of keys pass ({} keys)", allowed.len());
        println!("| ef | recall@10 | p50 ms | p99 ms | exact-among p50 ms |");
        println!("|---:|---:|---:|---:|---:|");
        let truth: Vec<Vec<u64>> = queries
            .chunks_exact(DIM)
            .take(200)
            .map(|q| index.exact_among(q, 10, &allowed).expect("exact among").iter().map(|n| n.key).collect())
            .collect();
        let mut exact_times: Vec<f64> = queries
            .chunks_exact(DIM)
            .take(50)
            .map(|q| {
                let t = Instant::now();
                let _ = index.exact_among(q, 10, &allowed);
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        exact_times.sort_by(f64::total_cmp);
        for &ef in &a.efs {
            index.set_expansion_search(ef);
            let mut times = Vec::new();
            let mut hits = 0usize;
            for (q, want) in queries.chunks_exact(DIM).zip(&truth) {
                let t = Instant::now();
                let got = index.search(q, 10, keep).expect("filtered search");
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                hits += got.iter().filter(|n| want.contains(&n.key)).count();
            }
            times.sort_by(f64::total_cmp);
            println!(
                "| {ef} | {:.4} | {:.3} | {:.3} | {:.3} |",
                hits as f64 / (10 * truth.len()) as f64,
                percentile(&times, 0.5),
                percentile(&times, 0.99),
                percentile(&exact_times, 0.5)
            );
        }
    }
}
