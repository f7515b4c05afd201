//! Cache headers of the site's files (`/pkg`: wasm, JavaScript, CSS). cargo-leptos names the
//! bundle's files after a hash of their content (`signalbox.<hash>.wasm`) and lists the
//! hashes in a file beside the binary, so a browser may keep those for a year without asking
//! again: a new build has new names. Any other file there (or every one, when hashing is off)
//! must be revalidated on each use (304 from `Last-Modified`), so a browser never runs a
//! stale bundle against a newer server.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use leptos::config::LeptosOptions;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// Where Leptos and cargo-leptos keep the hashes: beside the running binary.
fn hash_file(options: &LeptosOptions) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join(&*options.hash_file))
}

/// Turns hashing off when the hash file is missing (a binary copied without it, or a test
/// binary): Leptos would fail every page trying to read it. Pages then name the unhashed
/// files, which exist only for a build without hashing, so it says so loudly.
pub fn check_hash_file(options: &mut LeptosOptions) {
    if options.hash_files && !hash_file(options).is_some_and(|path| path.exists()) {
        tracing::warn!(
            file = %options.hash_file,
            "hash-files is on but no hash file is beside the binary: copy it along with the binary; serving unhashed file names"
        );
        options.hash_files = false;
    }
}

/// The paths of the site's content-hashed files, and the prefix of all its files.
#[derive(Clone, Debug)]
pub struct HashedFiles {
    hashed: Arc<HashSet<String>>,
    prefix: Arc<str>,
}

impl HashedFiles {
    /// Reads the hash file cargo-leptos wrote beside the running binary (none when hashing is
    /// off: then every file is revalidated).
    pub fn of(options: &LeptosOptions) -> HashedFiles {
        let text = options
            .hash_files
            .then(|| hash_file(options))
            .flatten()
            .and_then(|path| std::fs::read_to_string(path).ok());
        HashedFiles::parse(text.as_deref().unwrap_or_default(), options)
    }

    /// `js: <hash>` lines → `/pkg/<output-name>.<hash>.js`.
    fn parse(text: &str, options: &LeptosOptions) -> HashedFiles {
        let pkg = Path::new("/").join(&*options.site_pkg_dir);
        let paths = text
            .lines()
            .filter_map(|line| line.split_once(':'))
            .filter(|(ext, _)| matches!(ext.trim(), "js" | "wasm" | "css"))
            .map(|(ext, hash)| {
                let name = format!("{}.{}.{}", options.output_name, hash.trim(), ext.trim());
                pkg.join(name).to_string_lossy().into_owned()
            })
            .collect();
        HashedFiles {
            hashed: Arc::new(paths),
            prefix: format!("/{}/", options.site_pkg_dir).into(),
        }
    }

    fn cache_control(&self, path: &str) -> Option<&'static str> {
        if self.hashed.contains(path) {
            Some(IMMUTABLE)
        } else if path.starts_with(&*self.prefix) {
            Some(REVALIDATE)
        } else {
            None
        }
    }
}

/// Sets the cache headers of successful answers for site files.
pub async fn cache_headers(
    State(hashed): State<HashedFiles>,
    request: Request,
    next: Next,
) -> Response {
    let control = hashed.cache_control(request.uri().path());
    let mut response = next.run(request).await;
    if let (Some(control), true) = (control, response.status().is_success()) {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(control));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_files_are_kept_and_the_others_revalidated() {
        let options = LeptosOptions::builder()
            .output_name("signalbox")
            .site_pkg_dir("pkg")
            .hash_files(true)
            .build();
        let hashed = HashedFiles::parse(
            "js: Ab12_x\nwasm: Cd34-y\ncss: Ef56\nmanifest: zz\n",
            &options,
        );
        assert_eq!(
            hashed.cache_control("/pkg/signalbox.Cd34-y.wasm"),
            Some(IMMUTABLE)
        );
        assert_eq!(
            hashed.cache_control("/pkg/signalbox.Ab12_x.js"),
            Some(IMMUTABLE)
        );
        assert_eq!(
            hashed.cache_control("/pkg/signalbox.Ef56.css"),
            Some(IMMUTABLE)
        );
        assert_eq!(
            hashed.cache_control("/pkg/signalbox.old.wasm"),
            Some(REVALIDATE)
        );
        assert_eq!(
            hashed.cache_control("/pkg/signalbox.wasm"),
            Some(REVALIDATE)
        );
        assert_eq!(hashed.cache_control("/runs/x"), None);
        assert_eq!(
            HashedFiles::parse("", &options).cache_control("/pkg/signalbox.Cd34-y.wasm"),
            Some(REVALIDATE),
            "hashing off"
        );
    }

    #[test]
    fn hashing_turns_off_without_a_hash_file_instead_of_failing_pages() {
        let mut options = LeptosOptions::builder()
            .output_name("signalbox")
            .hash_files(true)
            .hash_file(std::sync::Arc::from("no-such-hash-file.txt"))
            .build();
        check_hash_file(&mut options);
        assert!(!options.hash_files);
    }
}
