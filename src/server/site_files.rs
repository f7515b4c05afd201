//! Cache headers of the site's files (`/pkg`: wasm, JavaScript, CSS). cargo-leptos names the
//! bundle's files after a hash of their content (`signalbox.<hash>.wasm`) and lists the
//! hashes in a file beside the binary (the lazily loaded parts of a split bundle are listed in
//! the split manifest it names), so a browser may keep those for a year without asking again:
//! a new build has new names. Any other file there (or every one, when hashing is off)
//! must be revalidated on each use (304 from `Last-Modified`), so a browser never runs a
//! stale bundle against a newer server.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use leptos::config::LeptosOptions;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";
/// The names cargo-leptos gives the split bundle's loader and manifest (before their hashes).
const SPLIT_LOADER: &str = "__wasm_split";
const SPLIT_MANIFEST: &str = "__wasm_split_manifest";

/// The hash a `name: hash` line of the hash file gives.
fn hash_of<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, hash)| hash.trim())
}

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

/// The hash file cargo-leptos wrote beside the running binary (empty when hashing is off), and
/// the split manifest it names, which lists the lazily loaded parts of the bundle by the split
/// points that need them (also named after their hashes).
fn read_listing(options: &LeptosOptions) -> (String, Option<String>) {
    let text = options
        .hash_files
        .then(|| hash_file(options))
        .flatten()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_default();
    let manifest = hash_of(&text, "manifest").and_then(|hash| {
        let name = format!("{SPLIT_MANIFEST}.{hash}.json");
        let path = Path::new(&*options.site_root)
            .join(&*options.site_pkg_dir)
            .join(name);
        std::fs::read_to_string(path).ok()
    });
    (text, manifest)
}

/// The split manifest: split point → the modules it loads (none without a split bundle).
type SplitPoints = HashMap<String, Vec<String>>;

fn split_points(manifest: Option<&str>) -> SplitPoints {
    manifest
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default()
}

/// Reads the listing once at start: every file named after its hash (the bundle's and its
/// split parts'; when hashing is off, every file is revalidated), and the parts each page needs.
pub fn read(options: &LeptosOptions) -> (HashedFiles, SplitParts) {
    let (text, manifest) = read_listing(options);
    let points = split_points(manifest.as_deref());
    (
        HashedFiles::parse(&text, &points, options),
        SplitParts::parse(&text, &points, options),
    )
}

impl HashedFiles {
    /// `js: <hash>` lines → `/pkg/<output-name>.<hash>.js`; `split` and `manifest` lines → the
    /// split loader and its manifest; every module the manifest lists → `/pkg/<module>.wasm`.
    fn parse(text: &str, points: &SplitPoints, options: &LeptosOptions) -> HashedFiles {
        let pkg = Path::new("/").join(&*options.site_pkg_dir);
        let in_pkg = |name: String| pkg.join(name).to_string_lossy().into_owned();
        let bundle = text
            .lines()
            .filter_map(|line| line.split_once(':'))
            .filter_map(|(ext, hash)| {
                let hash = hash.trim();
                match ext.trim() {
                    ext @ ("js" | "wasm" | "css") => {
                        Some(format!("{}.{hash}.{ext}", options.output_name))
                    }
                    "split" => Some(format!("{SPLIT_LOADER}.{hash}.js")),
                    "manifest" => Some(format!("{SPLIT_MANIFEST}.{hash}.json")),
                    _ => None,
                }
            });
        let chunks = points
            .values()
            .flatten()
            .map(|module| format!("{module}.wasm"));
        HashedFiles {
            hashed: Arc::new(bundle.chain(chunks).map(in_pkg).collect()),
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

/// The split bundle's parts each page needs on its first visit, for its `<head>` to name: the
/// browser then fetches them alongside the main module instead of after the main module has
/// started and asked for them (a round trip or more later on a real network). Leptos 0.8.10
/// means to do this, but its integration never finds the manifest.
#[derive(Clone, Debug, Default)]
pub struct SplitParts {
    /// A route view's split point (`run_view`) → `/pkg/<module>.wasm` of its modules and of
    /// the shell's (the tab's topic connection, which every page opens).
    pages: Arc<HashMap<String, Vec<String>>>,
    /// `/pkg/__wasm_split.<hash>.js`, the script that loads them.
    loader: Option<Arc<str>>,
}

impl SplitParts {
    /// From the hash file and the split manifest (none without either).
    fn parse(text: &str, points: &SplitPoints, options: &LeptosOptions) -> SplitParts {
        let url = |name: String| format!("/{}/{name}", options.site_pkg_dir);
        let (views, shell): (Vec<_>, Vec<_>) = (points.iter())
            .map(|(key, modules)| (point_name(key), modules))
            .partition(|(point, _)| point.ends_with(VIEW_SUFFIX));
        let shell: Vec<&String> = shell.into_iter().flat_map(|(_, modules)| modules).collect();
        let pages = views
            .into_iter()
            .map(|(view, modules)| {
                let mut all: Vec<String> = (modules.iter().chain(shell.iter().copied()))
                    .map(|module| url(format!("{module}.wasm")))
                    .collect();
                all.sort();
                all.dedup();
                (view.to_owned(), all)
            })
            .collect();
        SplitParts {
            pages: Arc::new(pages),
            loader: hash_of(text, "split")
                .filter(|_| !points.is_empty())
                .map(|hash| url(format!("{SPLIT_LOADER}.{hash}.js")).into()),
        }
    }

    /// The loader and the modules of the page whose view is the split point `view`.
    pub fn of_page(&self, view: &str) -> Option<(&str, &[String])> {
        Some((self.loader.as_deref()?, self.pages.get(view)?))
    }
}

/// Split points of route views end so (`src/ui/pages/split.rs`); the others are the shell's.
const VIEW_SUFFIX: &str = "_view";

/// A split point's name as written in the code: manifests of some versions of the splitter
/// key it as `__<name>_<n>`.
fn point_name(key: &str) -> &str {
    let key = key.strip_prefix("__").unwrap_or(key);
    match key.rsplit_once('_') {
        Some((name, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => key,
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
            "js: Ab12_x\nwasm: Cd34-y\ncss: Ef56\nmanifest: Mn1\nsplit: Sp2\n",
            &split_points(Some(
                r#"{"__run_view_1": ["chunk_7.Ch7", "split___run_view_1.Rv1"]}"#,
            )),
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
        for split in [
            "/pkg/__wasm_split.Sp2.js",
            "/pkg/__wasm_split_manifest.Mn1.json",
            "/pkg/chunk_7.Ch7.wasm",
            "/pkg/split___run_view_1.Rv1.wasm",
        ] {
            assert_eq!(hashed.cache_control(split), Some(IMMUTABLE), "{split}");
        }
        assert_eq!(
            hashed.cache_control("/pkg/chunk_8.Ch8.wasm"),
            Some(REVALIDATE),
            "not in the manifest"
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
            HashedFiles::parse("", &SplitPoints::new(), &options)
                .cache_control("/pkg/signalbox.Cd34-y.wasm"),
            Some(REVALIDATE),
            "hashing off"
        );
    }

    #[test]
    fn each_page_preloads_its_view_and_the_shell_once() {
        let options = LeptosOptions::builder()
            .output_name("signalbox")
            .site_pkg_dir("pkg")
            .build();
        let manifest = r#"{
            "run_view": ["chunk_1.A", "split_run_view.R"],
            "__home_view_3": ["chunk_1.A", "split_home_view.H"],
            "open_10984972484296102187": ["chunk_1.A", "chunk_2.B"]
        }"#;
        let parts = SplitParts::parse(
            "js: J\nsplit: Sp2\n",
            &split_points(Some(manifest)),
            &options,
        );
        let (loader, run) = parts.of_page("run_view").unwrap();
        assert_eq!(loader, "/pkg/__wasm_split.Sp2.js");
        assert_eq!(
            run,
            [
                "/pkg/chunk_1.A.wasm",
                "/pkg/chunk_2.B.wasm",
                "/pkg/split_run_view.R.wasm"
            ]
        );
        assert_eq!(parts.of_page("home_view").unwrap().1.len(), 3);
        assert!(
            parts.of_page("open_10984972484296102187").is_none(),
            "not a page"
        );
        assert!(parts.of_page("audit_view").is_none());
        assert!(
            SplitParts::parse("js: J\n", &SplitPoints::new(), &options)
                .of_page("run_view")
                .is_none(),
            "no split bundle"
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
