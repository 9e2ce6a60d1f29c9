//! A load client for `mmindex serve`, and a small example of talking to it
//! from Rust.
//!
//! `load URL IMAGES_DIR SECONDS CLIENTS [writer]`
//!
//! CLIENTS threads search with the images in IMAGES_DIR (each posts one image
//! after another, round robin) for SECONDS; with `writer`, one more thread
//! adds those images again under new ids through `POST /records:batch`, 20
//! at a time (the server needs `--allowed-root IMAGES_DIR`). Prints searches
//! per second, latency percentiles, failures, and the writer's records per
//! second. With CLIENTS 0 and `writer`, it measures the writer alone.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Records per batch request from the writer.
const BATCH: usize = 20;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(dir), Some(secs), Some(clients)) = (
        args.first(),
        args.get(1),
        args.get(2).and_then(|s| s.parse::<u64>().ok()),
        args.get(3).and_then(|s| s.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: load URL IMAGES_DIR SECONDS CLIENTS [writer]");
        return ExitCode::from(2);
    };
    let with_writer = args.get(4).is_some_and(|a| a == "writer");
    let mut names: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect(),
        Err(e) => {
            eprintln!("error: {dir}: {e}");
            return ExitCode::FAILURE;
        }
    };
    names.sort();
    let queries: Arc<Vec<Vec<u8>>> = Arc::new(
        names
            .iter()
            .take(64)
            .filter_map(|p| std::fs::read(p).ok())
            .collect(),
    );
    if queries.is_empty() {
        eprintln!("error: no images in {dir}");
        return ExitCode::FAILURE;
    }
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let searchers: Vec<_> = (0..clients)
        .map(|c| {
            let (agent, url, queries, stop) =
                (agent.clone(), url.clone(), queries.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut failures = 0usize;
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    let q = &queries[i % queries.len()];
                    i += 1;
                    let t = Instant::now();
                    let answered = agent
                        .post(&format!("{url}/search?top_k=10"))
                        .send_bytes(q)
                        .ok()
                        .and_then(|r| r.into_string().ok());
                    match answered {
                        Some(_) => latencies.push(t.elapsed().as_secs_f64() * 1e3),
                        None => failures += 1,
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let writer = with_writer.then(|| {
        let (agent, url, stop) = (agent.clone(), url.clone(), stop.clone());
        let files: Vec<String> = names
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(String::from))
            .collect();
        std::thread::spawn(move || {
            let (mut added, mut failures, mut round) = (0usize, 0usize, 0usize);
            while !stop.load(Ordering::Relaxed) {
                let records: Vec<serde_json::Value> = (0..BATCH)
                    .map(|j| {
                        let n = round * BATCH + j;
                        serde_json::json!({
                            "id": format!("load/{n}"),
                            "path": files[n % files.len()],
                        })
                    })
                    .collect();
                round += 1;
                let body = serde_json::json!({ "records": records }).to_string();
                match agent
                    .post(&format!("{url}/records:batch"))
                    .set("Content-Type", "application/json")
                    .send_string(&body)
                    .ok()
                    .and_then(|r| r.into_string().ok())
                    .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                {
                    Some(v) => {
                        added += v["added"].as_u64().unwrap_or(0) as usize
                            + v["replaced"].as_u64().unwrap_or(0) as usize;
                    }
                    None => failures += 1,
                }
            }
            (added, failures)
        })
    });
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut failures = 0;
    for s in searchers {
        if let Ok((l, f)) = s.join() {
            latencies.extend(l);
            failures += f;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    if clients > 0 {
        println!(
            "searches {} in {elapsed:.1} s: {:.1}/s, p50 {:.1} ms, p99 {:.1} ms, failed {failures}",
            latencies.len(),
            latencies.len() as f64 / elapsed,
            pct(0.5),
            pct(0.99)
        );
    }
    if let Some(w) = writer {
        if let Ok((added, wf)) = w.join() {
            let elapsed = started.elapsed().as_secs_f64();
            println!(
                "writer: {added} records in {elapsed:.1} s: {:.2}/s, failed requests {wf}",
                added as f64 / elapsed
            );
        }
    }
    ExitCode::SUCCESS
}
