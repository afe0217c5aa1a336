//! The demo's working directory: loadcast deletes only what it created, so a directory is
//! emptied only when an earlier demo made it (a marker file says so).

use std::path::{Path, PathBuf};

/// Marks a directory the demo made.
pub const MARKER: &str = ".loadcast-demo";

#[derive(Debug, thiserror::Error)]
pub enum WorkdirError {
    #[error(
        "{0} is not empty and not a directory an earlier `loadcast demo` made: the demo deletes nothing it did not create (give a new or empty --dir)"
    )]
    NotOurs(PathBuf),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// Makes `dir` ready for a demo: created when missing, emptied when an earlier demo made it,
/// refused when it holds anything else.
pub fn prepare(dir: &Path) -> Result<(), WorkdirError> {
    let io = |e| WorkdirError::Io(dir.to_path_buf(), e);
    let existing = std::fs::read_dir(dir).ok().map(|entries| entries.count());
    match existing {
        Some(n) if n > 0 && dir.join(MARKER).is_file() => {
            std::fs::remove_dir_all(dir).map_err(io)?
        }
        Some(n) if n > 0 => return Err(WorkdirError::NotOurs(dir.to_path_buf())),
        _ => {}
    }
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::write(
        dir.join(MARKER),
        "made by `loadcast demo`; a later demo with this --dir may empty it\n",
    )
    .map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_directory_the_demo_made_is_emptied() {
        let root = std::env::temp_dir().join(format!("loadcast-workdir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        prepare(&root).expect("a new directory is made");
        std::fs::write(root.join("old-output"), "x").expect("write");
        prepare(&root).expect("a demo's own directory is emptied");
        assert!(!root.join("old-output").exists());

        let theirs = root.join("theirs");
        std::fs::create_dir_all(&theirs).expect("mkdir");
        std::fs::write(theirs.join("keep.txt"), "mine").expect("write");
        let refused = prepare(&theirs).expect_err("a user's directory is refused");
        assert!(matches!(refused, WorkdirError::NotOurs(_)), "{refused}");
        assert_eq!(
            std::fs::read_to_string(theirs.join("keep.txt"))
                .ok()
                .as_deref(),
            Some("mine")
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
