//! The image files of a folder, for the examples that read one.

use std::path::{Path, PathBuf};

/// The images of `dir` (by extension), sorted by path.
pub fn images_in(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| mmindex::source::has_image_extension(p))
        .collect();
    v.sort();
    Ok(v)
}

/// A path's file name, lossily as text (the id a folder build gives it).
pub fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
