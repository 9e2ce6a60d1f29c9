//! Writes transformed copies of photos to use as queries: each photo rotated
//! by 20°, scaled by 0.6 and recompressed at JPEG quality 30.
//!
//! `make_queries PHOTOS_DIR OUT_DIR [FILE...]` (default: every photo).

use std::path::PathBuf;
use std::process::ExitCode;

use mmindex::augment::{apply, Transform};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: make_queries PHOTOS_DIR OUT_DIR [FILE...]");
        return ExitCode::from(2);
    }
    let (src, out) = (PathBuf::from(&args[0]), PathBuf::from(&args[1]));
    let names: Vec<String> = if args.len() > 2 {
        args[2..].to_vec()
    } else {
        match mmindex::source::folder(&src) {
            Ok((s, _)) => s.iter().map(|s| s.id.to_string_lossy()).collect(),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("error: {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    for name in names {
        let bytes = match std::fs::read(src.join(&name)) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {name}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let stem = name.trim_end_matches(".jpg").replace('/', "_");
        for t in [
            Transform::Rotate(20.0),
            Transform::Scale(0.6),
            Transform::Jpeg(30),
        ] {
            let ext = if matches!(t, Transform::Jpeg(_)) {
                "jpg"
            } else {
                "png"
            };
            let path = out.join(format!("{stem}.{}.{ext}", t.label()));
            match apply(&bytes, t).and_then(|b| {
                std::fs::write(&path, b).map_err(|e| mmindex::Error::Io {
                    path: path.clone(),
                    source: e,
                })
            }) {
                Ok(()) => println!("{}", path.display()),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    ExitCode::SUCCESS
}
