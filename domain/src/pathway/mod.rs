//! Care pathways as data: the levels of care, the moves between them and the gates each move
//! requires. A [`Pathway`] is built once by the loader (the `carepath-workflows` crate reads
//! and validates the TOML) and only read afterwards.

mod model;

pub use model::*;
