//! Care pathways as data: the levels of care, the moves between them and the gates each move
//! requires. A [`Pathway`] is loaded from TOML (see [`load`]) and validated once; the rest of
//! the engine only reads it. This module does no I/O beyond reading the file it is given and
//! knows nothing of the database.

mod asam;
mod load;
mod model;

pub use load::{PathwayError, PathwayErrors, load_file, parse};
pub use model::*;

/// The default pathway, compiled in so `carepath serve` works with no files around it.
pub const DEFAULT_PATHWAY_TOML: &str = include_str!("../../../workflows/asam-continuum.toml");
/// File name the default pathway is reported under.
pub const DEFAULT_PATHWAY_NAME: &str = "workflows/asam-continuum.toml";

/// The default ASAM continuum pathway.
pub fn default_pathway() -> Pathway {
    parse(DEFAULT_PATHWAY_NAME, DEFAULT_PATHWAY_TOML).expect("the bundled pathway is valid")
}
