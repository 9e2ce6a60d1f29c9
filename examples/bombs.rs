//! Writes the decompression bombs and lying headers of
//! `tests/common/bombs.rs` to a directory, for measuring memory through the
//! CLI (`scripts/bombs.sh`):
//!
//! ```text
//! cargo run --release --example bombs -- OUT_DIR
//! ```

#[path = "../tests/common/bombs.rs"]
mod bombs;

use std::path::{Path, PathBuf};

use mmindex::augment::{apply, Transform};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "bombs".into()));
    std::fs::create_dir_all(&out)?;
    let photo =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/photos/camera.jpg"))?;
    let small = apply(
        &photo,
        Transform::Region {
            x: 0.4,
            y: 0.4,
            w: 0.05,
            h: 0.05,
        },
    )?;
    let jpeg = apply(&small, Transform::Jpeg(90))?;
    let png = apply(&photo, Transform::Scale(1.0))?;
    let files: Vec<(&str, Vec<u8>)> = vec![
        (
            "webp-lossless-16000x16000.webp",
            bombs::webp_lossless(16000, 16000),
        ),
        ("tiff-g4-20000x15000.tiff", bombs::tiff_g4(20000, 15000)),
        ("jpeg-301-scans.jpg", bombs::jpeg_many_scans(&jpeg, 300)),
        (
            "jpeg-tem-20000x15000.jpg",
            bombs::jpeg_tem_fake_frame(&jpeg, 20000, 15000),
        ),
        (
            "jpeg-garbage-20000x15000.jpg",
            bombs::jpeg_garbage_before_frame(&jpeg, 20000, 15000),
        ),
        (
            "jpeg-20000x15000.jpg",
            bombs::jpeg_resized(&jpeg, 20000, 15000),
        ),
        (
            "tiff-100x100-tile-16384.tiff",
            bombs::tiff_tiled(100, 100, 16384, 16384),
        ),
        (
            "tiff-pages-100x100-then-20000x15000.tiff",
            bombs::tiff_two_pages((100, 100), (20000, 15000)),
        ),
        (
            "webp-canvas-64-frame-16000.webp",
            bombs::webp_extended((64, 64), (16000, 16000), 0),
        ),
        ("pgm-20000x15000.pgm", bombs::pgm(20000, 15000, 4096)),
        ("j2k-20000x15000.j2k", bombs::j2k_blank(20000, 15000)),
        (
            "jp2-20000x15000.jp2",
            bombs::jp2((20000, 15000), (20000, 15000)),
        ),
        (
            "jp2-ihdr-100-siz-20000x15000.jp2",
            bombs::jp2((100, 100), (20000, 15000)),
        ),
        ("bmp-rle8-20000x15000.bmp", bombs::bmp_rle8(20000, 15000)),
        ("png-ihdr-64-data-512.png", bombs::png_resized(&png, 64, 64)),
        (
            "png-ztxt-150x8MB.png",
            bombs::png_text_bomb(&png, 150, 7_900_000),
        ),
        ("png-20000x15000.png", bombs::png_blank(20000, 15000)),
        // Within the limit: the memory one decode of 64 Mpx takes, per format.
        ("64mpx.webp", bombs::webp_lossless(8000, 8000)),
        ("64mpx.tiff", bombs::tiff_g4(8000, 8000)),
        ("64mpx.jpg", bombs::jpeg_resized(&jpeg, 8000, 8000)),
        ("64mpx.png", bombs::png_blank(8000, 8000)),
        ("64mpx.bmp", bombs::bmp_rle8(8000, 8000)),
        ("64mpx.j2k", bombs::j2k_blank(8000, 8000)),
    ];
    for (name, bytes) in files {
        std::fs::write(out.join(name), &bytes)?;
        println!("{name}\t{} bytes", bytes.len());
    }
    Ok(())
}
