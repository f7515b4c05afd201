//! One component per route.

mod home;
mod not_found;
mod pipeline;
mod run;

pub use home::HomePage;
pub use not_found::NotFound;
pub use pipeline::PipelinePage;
pub use run::RunPage;
