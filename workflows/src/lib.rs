//! Care pathways as data: the TOML files beside this crate, and the loader that reads and
//! validates them into a [`Pathway`] (errors with file, line and item). The default pathway
//! is compiled in so `carepath serve` works with no files around it. Nothing here does I/O
//! beyond reading the file it is given.

mod asam;
mod load;

pub use carepath_domain::pathway::Pathway;
pub use load::{PathwayError, PathwayErrors, load_file, parse};

/// The default pathway, compiled in.
pub const DEFAULT_PATHWAY_TOML: &str = include_str!("../pathways/asam-continuum.toml");
/// File name the default pathway is reported under.
pub const DEFAULT_PATHWAY_NAME: &str = "workflows/pathways/asam-continuum.toml";

/// The default ASAM continuum pathway.
pub fn default_pathway() -> Pathway {
    parse(DEFAULT_PATHWAY_NAME, DEFAULT_PATHWAY_TOML).expect("the bundled pathway is valid")
}
