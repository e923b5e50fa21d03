//! What a program that reads scenario files adds to them: built-in models
//! (`model = "england"`) and profiles (`profile = "england"`), named sets of
//! defaults for a family of models.

use super::file::ScenarioFile;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::name::{canonical_name, closest, did_you_mean};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

type Loader = Arc<dyn Fn() -> Result<Model> + Send + Sync>;

/// Built-in models and profiles for scenario files.
///
/// The engine's own library is empty: a scenario names its model by path,
/// and says what to report. A crate built on the engine registers its
/// models and their profiles, so that its users' files can be short:
///
/// ```
/// use carecascade_engine::scenario::{Library, Scenario, ScenarioFile, TimeSpec};
/// use carecascade_engine::format::native;
///
/// let profile = ScenarioFile {
///     time: Some(TimeSpec { horizon: Some(5), ..TimeSpec::default() }),
///     ..ScenarioFile::default()
/// };
/// let library = Library::new()
///     .with_model("decay", || native::parse("[stocks.x]\ninitial = 1\n", None), Some("decay"))
///     .with_profile("decay", profile);
/// let scenario = Scenario::parse_with("model = \"decay\"\n", "s.toml", &library)?;
/// assert_eq!(scenario.horizon(), Some(5));
/// # Ok::<(), carecascade_engine::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Library {
    /// (name, loader, default profile).
    models: Vec<(String, Loader, Option<String>)>,
    profiles: Vec<(String, ScenarioFile)>,
    default_model: Option<String>,
}

impl fmt::Debug for Library {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Library")
            .field("models", &self.model_names())
            .field(
                "profiles",
                &self.profiles.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("default_model", &self.default_model)
            .finish()
    }
}

impl Library {
    /// An empty library.
    pub fn new() -> Library {
        Library::default()
    }

    /// Adds a built-in model, loaded on demand, and the profile a scenario
    /// using it gets when it names none.
    pub fn with_model(
        mut self,
        name: &str,
        load: impl Fn() -> Result<Model> + Send + Sync + 'static,
        profile: Option<&str>,
    ) -> Library {
        self.models.push((
            name.to_string(),
            Arc::new(load),
            profile.map(str::to_string),
        ));
        self
    }

    /// Adds a profile: defaults merged under a scenario that names it.
    pub fn with_profile(mut self, name: &str, defaults: ScenarioFile) -> Library {
        self.profiles.push((name.to_string(), defaults));
        self
    }

    /// The model a scenario uses when it names none.
    pub fn with_default_model(mut self, name: &str) -> Library {
        self.default_model = Some(name.to_string());
        self
    }

    /// The built-in models' names.
    pub fn model_names(&self) -> Vec<&str> {
        self.models.iter().map(|(n, _, _)| n.as_str()).collect()
    }

    /// The model used when a scenario names none.
    pub fn default_model(&self) -> Option<&str> {
        self.default_model.as_deref()
    }

    fn model_entry(&self, name: &str) -> Option<&(String, Loader, Option<String>)> {
        let wanted = canonical_name(name);
        self.models
            .iter()
            .find(|(n, _, _)| canonical_name(n) == wanted)
    }

    /// Whether `name` is a built-in model.
    pub fn has_model(&self, name: &str) -> bool {
        self.model_entry(name).is_some()
    }

    /// The default profile of a built-in model.
    pub fn profile_of_model(&self, name: &str) -> Option<&str> {
        self.model_entry(name).and_then(|(_, _, p)| p.as_deref())
    }

    /// A profile by name.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an unknown profile, listing the known ones and
    /// the closest.
    pub fn profile(&self, name: &str) -> Result<&ScenarioFile> {
        let wanted = canonical_name(name);
        self.profiles
            .iter()
            .find(|(n, _)| canonical_name(n) == wanted)
            .map(|(_, p)| p)
            .ok_or_else(|| {
                let names: Vec<&str> = self.profiles.iter().map(|(n, _)| n.as_str()).collect();
                Error::Invalid {
                    what: format!("profile `{name}`"),
                    message: format!(
                        "is not a profile this program knows (known: {}){}",
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        },
                        did_you_mean(closest(name, names.iter().copied()))
                    ),
                }
            })
    }

    /// Loads a model from a file, or a built-in model by name when no file
    /// of that name exists.
    ///
    /// # Errors
    ///
    /// As [`crate::format::load_model`]; a name that is neither a file nor a
    /// built-in model is an [`Error::Invalid`] listing the built-in models
    /// and the closest.
    pub fn load_model(&self, name_or_path: impl AsRef<Path>) -> Result<Model> {
        let path = name_or_path.as_ref();
        if !path.exists() && path.extension().is_none() {
            if let Some((_, load, _)) = path.to_str().and_then(|n| self.model_entry(n)) {
                return load();
            }
            let names = self.model_names();
            return Err(Error::Invalid {
                what: path.display().to_string(),
                message: format!(
                    "no such file, and not a built-in model (built in: {}){}",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    },
                    did_you_mean(closest(&path.display().to_string(), names.iter().copied()))
                ),
            });
        }
        crate::format::load_model(path)
    }
}
