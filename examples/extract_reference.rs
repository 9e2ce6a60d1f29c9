//! The throughput reference for `mmindex build`: plain decode +
//! detectAndCompute over every image in a folder on all cores (one OpenCV
//! thread per worker), nothing else. Same feature settings as the index
//! defaults (longer side ≤ 1,024 px, 2,000 strongest keypoints).
//!
//! `extract_reference DIR [sift|orb] [WORKERS] [MIN_FEATURES]` prints images,
//! keypoints and wall seconds. With MIN_FEATURES it runs the library's own
//! extraction instead (threshold relaxation below MIN_FEATURES keypoints), to
//! measure what relaxation costs.

use std::process::ExitCode;
use std::time::Instant;

use opencv::core::{no_array, Mat, Size, Vector};
use opencv::features2d::{ORB_ScoreType, ORB, SIFT};
use opencv::imgcodecs::{imdecode, IMREAD_GRAYSCALE};
use opencv::imgproc::{resize, INTER_AREA};
use opencv::prelude::*;
use rayon::prelude::*;

const MAX_SIDE: i32 = 1024;
const MAX_FEATURES: i32 = 2000;

fn describe(path: &std::path::Path, orb: bool) -> opencv::Result<usize> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let img = imdecode(&Vector::<u8>::from_slice(&bytes), IMREAD_GRAYSCALE)?;
    if img.empty() {
        return Ok(0);
    }
    let side = img.cols().max(img.rows());
    let img = if side > MAX_SIDE {
        let s = f64::from(MAX_SIDE) / f64::from(side);
        let mut out = Mat::default();
        let size = Size::new(
            (f64::from(img.cols()) * s) as i32,
            (f64::from(img.rows()) * s) as i32,
        );
        resize(&img, &mut out, size, 0.0, 0.0, INTER_AREA)?;
        out
    } else {
        img
    };
    let mut kps = Vector::new();
    let mut desc = Mat::default();
    if orb {
        let mut d = ORB::create(
            MAX_FEATURES,
            1.2,
            8,
            31,
            0,
            2,
            ORB_ScoreType::HARRIS_SCORE,
            31,
            20,
        )?;
        d.detect_and_compute(&img, &no_array(), &mut kps, &mut desc, false)?;
    } else {
        let mut d = SIFT::create(MAX_FEATURES, 3, 0.04, 10.0, 1.6)?;
        d.detect_and_compute(&img, &no_array(), &mut kps, &mut desc, false)?;
    }
    Ok(kps.len())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: extract_reference DIR [sift|orb] [WORKERS]");
        return ExitCode::from(2);
    };
    let orb = args.get(1).is_some_and(|f| f == "orb");
    let workers = args
        .get(2)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let files = match mmindex::source::folder(dir.as_ref()) {
        Ok((s, _)) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let paths: Vec<std::path::PathBuf> = files
        .into_iter()
        .filter_map(|s| match s.input {
            mmindex::features::ImageInput::Path(p) => Some(p),
            _ => None,
        })
        .collect();
    let _ = opencv::core::set_num_threads(1);
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(workers).build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let library = args.get(3).and_then(|m| m.parse::<u32>().ok()).map(|min| {
        let cfg = mmindex::IndexConfig {
            feature: if orb {
                mmindex::Feature::Orb
            } else {
                mmindex::Feature::Sift
            },
            min_features: min,
            ..mmindex::IndexConfig::default()
        };
        mmindex::features::ExtractParams::from(&cfg)
    });
    let relaxed = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let keypoints: usize = pool.install(|| {
        paths
            .par_iter()
            .map(|p| match &library {
                Some(params) => mmindex::features::extract(
                    &mmindex::features::ImageInput::Path(p.clone()),
                    params,
                )
                .map_or(0, |f| {
                    if f.relaxations > 0 {
                        relaxed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    f.keypoints.len()
                }),
                None => describe(p, orb).unwrap_or(0),
            })
            .sum()
    });
    println!(
        "{} images, {keypoints} keypoints, {:.2} s, {} relaxed",
        paths.len(),
        started.elapsed().as_secs_f64(),
        relaxed.into_inner()
    );
    ExitCode::SUCCESS
}
