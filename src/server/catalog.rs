//! The pipelines a server offers: the demo pipelines built into the binary plus every `*.toml`
//! of the `--pipelines` directory. Invalid files are reported and left out; the rest load.

use crate::domain::{Layout, Pipeline, PipelineError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Demo pipelines shipped with the server: (file label, TOML).
const DEMOS: [(&str, &str); 3] = [
    ("demo/deploy-web.toml", include_str!("demo/deploy-web.toml")),
    ("demo/etl-orders.toml", include_str!("demo/etl-orders.toml")),
    (
        "demo/build-matrix.toml",
        include_str!("demo/build-matrix.toml"),
    ),
];

/// One loaded pipeline and where it came from.
#[derive(Clone, Debug)]
pub struct Entry {
    pub pipeline: Arc<Pipeline>,
    /// Its graph laid out once, when the catalog loads.
    pub layout: Arc<Layout>,
    /// The folder of its file, where relative step commands resolve (None for demos).
    pub dir: Option<PathBuf>,
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    entries: BTreeMap<String, Entry>,
}

impl Catalog {
    /// Loads the demos and the directory's files (a file may replace a demo with the same id).
    /// Returns the catalog and every problem found, each naming its file.
    pub fn load(dir: Option<&Path>) -> (Catalog, Vec<PipelineError>) {
        let mut catalog = Catalog::default();
        let mut errors = Vec::new();
        for (label, text) in DEMOS {
            match Pipeline::parse(label, text) {
                Ok(pipeline) => catalog.insert(pipeline, None),
                Err(mut problems) => errors.append(&mut problems),
            }
        }
        catalog.add_dir(dir, &mut errors);
        (catalog, errors)
    }

    /// Only the directory's files, without the demos (a tenant's own pipelines).
    pub fn load_own(dir: Option<&Path>) -> (Catalog, Vec<PipelineError>) {
        let mut catalog = Catalog::default();
        let mut errors = Vec::new();
        catalog.add_dir(dir, &mut errors);
        (catalog, errors)
    }

    fn add_dir(&mut self, dir: Option<&Path>, errors: &mut Vec<PipelineError>) {
        if let Some(dir) = dir {
            let (files, mut problems) = toml_files(dir);
            errors.append(&mut problems);
            let (pipelines, mut problems) = read_pipelines(&files);
            errors.append(&mut problems);
            for (file, pipeline) in pipelines {
                self.insert(pipeline, file.parent().map(Path::to_path_buf));
            }
        }
    }

    fn insert(&mut self, pipeline: Pipeline, dir: Option<PathBuf>) {
        self.entries.insert(
            pipeline.id.clone(),
            Entry {
                layout: Arc::new(Layout::compute(&pipeline.run_graph())),
                pipeline: Arc::new(pipeline),
                dir,
            },
        );
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.get(id)
    }

    /// Pipelines ordered by id.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Pipeline>> {
        self.entries.values().map(|e| &e.pipeline)
    }
}

/// Reads and validates one pipeline file.
pub fn read_pipeline(path: &Path) -> Result<Pipeline, Vec<PipelineError>> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![PipelineError {
            file: label.clone(),
            problem: format!("cannot read: {e}"),
        }]
    })?;
    Pipeline::parse(&label, &text)
}

/// Reads and validates several files. Two files defining the same pipeline id are an error
/// naming both, and neither is loaded: which one was meant cannot be guessed.
pub fn read_pipelines(files: &[PathBuf]) -> (Vec<(PathBuf, Pipeline)>, Vec<PipelineError>) {
    let mut errors = Vec::new();
    let mut read: Vec<(PathBuf, Pipeline)> = Vec::new();
    for file in files {
        match read_pipeline(file) {
            Ok(pipeline) => read.push((file.clone(), pipeline)),
            Err(mut problems) => errors.append(&mut problems),
        }
    }
    let mut files_of: BTreeMap<&str, Vec<&Path>> = BTreeMap::new();
    for (file, pipeline) in &read {
        files_of.entry(&pipeline.id).or_default().push(file);
    }
    let duplicated: Vec<String> = files_of
        .iter()
        .filter(|(_, files)| files.len() > 1)
        .map(|(id, files)| {
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            errors.push(PipelineError {
                file: names[0].clone(),
                problem: format!(
                    "pipeline id `{id}` is also defined in {}; neither file is loaded",
                    names[1..].join(", ")
                ),
            });
            (*id).to_owned()
        })
        .collect();
    read.retain(|(_, pipeline)| !duplicated.contains(&pipeline.id));
    (read, errors)
}

/// The `*.toml` files of a directory, sorted so loading order is stable.
fn toml_files(dir: &Path) -> (Vec<PathBuf>, Vec<PipelineError>) {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut files: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
                .collect();
            files.sort();
            (files, Vec::new())
        }
        Err(e) => {
            let problem = format!("cannot read pipeline directory: {e}");
            (
                Vec::new(),
                vec![PipelineError {
                    file: dir.display().to_string(),
                    problem,
                }],
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demos_are_valid_and_shaped_as_promised() {
        let (catalog, errors) = Catalog::load(None);
        assert!(errors.is_empty(), "{errors:?}");
        let deploy = &catalog.get("deploy-web").unwrap().pipeline;
        let ids: Vec<&str> = deploy.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "starting-container",
                "cloning-repo",
                "starting-service",
                "running",
                "graceful-shutdown",
                "stopped"
            ]
        );
        assert!(catalog.get("etl-orders").is_some());
        let matrix = &catalog.get("build-matrix").unwrap().pipeline;
        assert!(matrix.steps.len() >= 8);
        assert!(
            matrix.steps.iter().filter(|s| s.needs.len() > 1).count() >= 1,
            "has a fan-in"
        );
    }

    #[test]
    fn two_files_with_one_id_are_an_error_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.toml", "b.toml"] {
            std::fs::write(
                dir.path().join(name),
                "id='same'\n[[steps]]\nid='x'\nrun='true'\n",
            )
            .unwrap();
        }
        let (catalog, errors) = Catalog::load(Some(dir.path()));
        assert!(catalog.get("same").is_none(), "neither wins silently");
        assert_eq!(errors.len(), 1);
        let message = errors[0].to_string();
        assert!(
            message.contains("a.toml") && message.contains("b.toml") && message.contains("`same`"),
            "{message}"
        );
    }

    #[test]
    fn bad_files_are_reported_and_good_ones_load() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("good.toml"),
            "id='good'\n[[steps]]\nid='a'\nrun='true'\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("cycle.toml"),
            "id='c'\n[[steps]]\nid='a'\nneeds=['a']\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let (catalog, errors) = Catalog::load(Some(dir.path()));
        assert!(catalog.get("good").is_some());
        assert!(catalog.get("c").is_none());
        assert_eq!(errors.len(), 1);
        let message = errors[0].to_string();
        assert!(
            message.contains("cycle.toml") && message.contains("step `a`: needs itself"),
            "{message}"
        );
        assert_eq!(
            catalog.get("good").unwrap().dir.as_deref(),
            Some(dir.path())
        );
    }
}
