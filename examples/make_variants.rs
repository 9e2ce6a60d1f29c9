//! Writes N distinct images made from the photos in a folder, for scale and
//! memory measurements: each a random region (40–95% of each side) of a
//! photo, then rotated, scaled or recompressed; seeded, so the same
//! arguments give the same files.
//!
//! `make_variants PHOTOS_DIR OUT_DIR N [SEED]`

use std::path::PathBuf;
use std::process::ExitCode;

use mmindex::augment::{apply, Transform};

#[allow(dead_code)]
#[path = "../tests/common/rng.rs"]
mod rng;
use rng::Rng;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(src), Some(out), Some(n)) = (
        args.first(),
        args.get(1),
        args.get(2).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: make_variants PHOTOS_DIR OUT_DIR N [SEED]");
        return ExitCode::from(2);
    };
    let mut rng = Rng::new(args.get(3).and_then(|s| s.parse().ok()).unwrap_or(7));
    // This mapping to [0, 1] (not `Rng::unit`) keeps the files of a seed as
    // they were.
    let mut next = move || rng.next() as f64 / u64::MAX as f64;
    let photos = match mmindex::source::folder(src.as_ref()) {
        Ok((s, _)) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bytes: Vec<Vec<u8>> = photos
        .iter()
        .filter_map(|s| match &s.input {
            mmindex::features::ImageInput::Pixels(_) => None,
            input => input
                .read(mmindex::config::DEFAULT_MAX_FILE_BYTES)
                .ok()
                .map(|b| b.into_owned()),
        })
        .collect();
    if bytes.is_empty() {
        eprintln!("error: no photos in {src}");
        return ExitCode::FAILURE;
    }
    let out = PathBuf::from(out);
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("error: {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    for i in 0..n {
        let photo = &bytes[i % bytes.len()];
        let (w, h) = (0.4 + 0.55 * next(), 0.4 + 0.55 * next());
        let region = Transform::Region {
            x: (1.0 - w) * next(),
            y: (1.0 - h) * next(),
            w,
            h,
        };
        let then = match i % 3 {
            0 => Transform::Rotate(-30.0 + 60.0 * next()),
            1 => Transform::Scale(0.7 + 0.8 * next()),
            _ => Transform::Jpeg(40 + (50.0 * next()) as u8),
        };
        let result = apply(photo, region).and_then(|b| apply(&b, then));
        match result {
            Ok(b) => {
                let ext = if matches!(then, Transform::Jpeg(_)) {
                    "jpg"
                } else {
                    "png"
                };
                let path = out.join(format!("v{i:06}.{ext}"));
                if let Err(e) = std::fs::write(&path, b) {
                    eprintln!("error: {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            Err(e) => {
                eprintln!("error: variant {i}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
